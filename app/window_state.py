"""What the window looked like and what was being written, kept across launches: its size and
place, the chat list's width, and an unsent message (quitting, or a crash, never eats a draft)."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QObject, QTimer

from app.settings import Settings
from ui.main_window import MainWindow

DRAFT_SAVE_MS = 500  # after the last keystroke; a crash loses at most half a second of typing


class WindowState(QObject):
    def __init__(self, settings: Settings, window: MainWindow) -> None:
        super().__init__(window)
        self._settings = settings
        self._window = window
        self._save_draft_soon = QTimer(self, singleShot=True, interval=DRAFT_SAVE_MS)
        self._save_draft_soon.timeout.connect(self.save_draft)

    def restore(self) -> None:
        """Before the window is shown, so it opens where it was left."""
        geometry = self._settings.state("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self._window.restoreGeometry(geometry)
        splitter = self._settings.state("window/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self._window.splitter.restoreState(splitter)
        draft = self._settings.state("window/draft")
        if isinstance(draft, str) and draft and not self._window.composer.edit.toPlainText():
            self._window.composer.set_text(draft)
        self._window.composer.edit.textChanged.connect(self._save_draft_soon.start)

    def save_draft(self) -> None:
        """What the composer holds; while an edit is under way, the draft it set aside."""
        composer = self._window.composer
        if composer.is_editing():
            return  # the edited question is in the store already; the set-aside draft was saved
        self._settings.set_state("window/draft", composer.edit.toPlainText())

    def save(self) -> None:
        self._save_draft_soon.stop()
        self.save_draft()
        self._settings.set_state("window/geometry", self._window.saveGeometry())
        self._settings.set_state("window/splitter", self._window.splitter.saveState())
