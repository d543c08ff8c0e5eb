"""What the window looked like and what was being written, kept across launches: its size and
place, the chat list's width, and an unsent message. Each is saved shortly after it changes, not
only on quit, so a crash or a kill loses none of them."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, QTimer

from app.settings import Settings
from ui.main_window import MainWindow

DRAFT_SAVE_MS = 500  # after the last keystroke; a crash loses at most half a second of typing
LAYOUT_SAVE_MS = 1000  # after the window was last moved or resized, or the chat list's edge dragged


class WindowState(QObject):
    def __init__(self, settings: Settings, window: MainWindow) -> None:
        super().__init__(window)
        self._settings = settings
        self._window = window
        self._save_draft_soon = QTimer(self, singleShot=True, interval=DRAFT_SAVE_MS)
        self._save_draft_soon.timeout.connect(self.save_draft)
        self._save_layout_soon = QTimer(self, singleShot=True, interval=LAYOUT_SAVE_MS)
        self._save_layout_soon.timeout.connect(self.save_layout)

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
        self._window.splitter.splitterMoved.connect(self._save_layout_soon.start)
        self._window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() in (QEvent.Type.Move, QEvent.Type.Resize) and self._window.isVisible():
            self._save_layout_soon.start()
        return False

    def save_draft(self) -> None:
        """What the composer holds; while an edit is under way, the draft it set aside."""
        composer = self._window.composer
        if composer.is_editing():
            return  # the edited question is in the store already; the set-aside draft was saved
        self._settings.set_state("window/draft", composer.edit.toPlainText())

    def save_layout(self) -> None:
        self._settings.set_state("window/geometry", self._window.saveGeometry())
        self._settings.set_state("window/splitter", self._window.splitter.saveState())

    def save(self) -> None:
        self._save_draft_soon.stop()
        self._save_layout_soon.stop()
        self.save_draft()
        self.save_layout()
