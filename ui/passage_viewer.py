"""A source's passage in its document: the document's text (plain, read-only: nothing in it is
markup, a link or an image) with the passage highlighted, selected and scrolled into view, the
file's path, and "Open file", which hands the file to the system's own app only when clicked and
only after the user has seen the full path and said yes (as links in answers do)."""
from __future__ import annotations

from pathlib import Path, PurePath

from PySide6.QtCore import QTimer, QUrl, Qt
from PySide6.QtGui import QColor, QDesktopServices, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QMessageBox, QPlainTextEdit, QPushButton, QTextEdit,
                               QVBoxLayout, QWidget)

HIGHLIGHT = QColor("#fff0a8")


def qt_position(text: str, index: int) -> int:
    """Where `text[index]` is in a Qt text document: Qt counts UTF-16 units and reads "\\r\\n" as one break."""
    prefix = text[:max(0, index)]
    return len(prefix.encode("utf-16-le")) // 2 - prefix.count("\r\n")


def confirm_open_file(parent: QWidget | None, path: str) -> bool:
    """Ask before a document goes to another app; True when the user said Open."""
    if not Path(path).is_file():
        gone = QMessageBox(QMessageBox.Icon.Information, "File not found", "The file is no longer there.",
                           QMessageBox.StandardButton.Ok, parent)
        gone.setInformativeText(path)
        gone.setTextFormat(Qt.TextFormat.PlainText)
        gone.exec()
        return False
    box = QMessageBox(QMessageBox.Icon.Question, "Open file?", "Open this file with its usual app?",
                      QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel, parent)
    box.setInformativeText(path)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Open


class PassageViewer(QDialog):
    """One document with one passage (`span`, Python string indices into `text`) marked; a span of
    (0, 0) or None shows the document without a mark."""

    def __init__(self, text: str, path: str, *, span: tuple[int, int] | None = None, place: str = "",
                 note: str = "", title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name = PurePath(path).name or path or "Document"
        self.setWindowTitle(title or name)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(760, 620)
        self.path = path
        self.heading = _plain_label(f"{name} · {place}" if place else name)
        self.heading.setStyleSheet("font-weight: bold; font-size: 14px;")
        self.path_label = _plain_label(path)
        self.path_label.setStyleSheet("color: #8a8580;")
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = _plain_label(note)
        self.note.setStyleSheet("color: #7a5a00; background: #fff6d6; border-radius: 6px; padding: 4px 8px;")
        self.note.setVisible(bool(note))
        self.text_view = QPlainTextEdit()
        self.text_view.setObjectName("passageText")
        self.text_view.setReadOnly(True)
        self.text_view.setPlainText(text)
        self.open_button = QPushButton("Open file")
        there = bool(path) and Path(path).is_file()
        self.open_button.setToolTip("Open the file with its usual app (Hearth asks first)" if there else
                                    "The file is no longer there")
        self.open_button.setEnabled(there)
        self.open_button.clicked.connect(self.open_file)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.heading, self.path_label, self.note):
            layout.addWidget(widget)
        layout.addWidget(self.text_view, 1)
        layout.addWidget(buttons)
        self.span = (qt_position(text, span[0]), qt_position(text, span[1])) if span and span[1] > span[0] else None
        self._mark()

    def _mark(self) -> None:
        """Highlight the passage and select it, so it is both seen and ready to copy."""
        if self.span is None:
            return
        highlight = QTextEdit.ExtraSelection()
        highlight.cursor = self._passage_cursor()
        highlight.format = QTextCharFormat()
        highlight.format.setBackground(HIGHLIGHT)
        self.text_view.setExtraSelections([highlight])
        self.text_view.setTextCursor(self._passage_cursor())
        QTimer.singleShot(0, self.scroll_to_passage)

    def _passage_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.text_view.document())
        cursor.setPosition(self.span[0])
        cursor.setPosition(self.span[1], QTextCursor.MoveMode.KeepAnchor)
        return cursor

    def scroll_to_passage(self) -> None:
        """The passage's start in the middle of the view (the view lays out only once shown)."""
        if self.span is None:
            return
        start = QTextCursor(self.text_view.document())
        start.setPosition(self.span[0])
        self.text_view.setTextCursor(start)
        self.text_view.centerCursor()
        self.text_view.setTextCursor(self._passage_cursor())
        self.text_view.ensureCursorVisible()

    def selected_text(self) -> str:
        """The selection as the user would copy it (Qt writes line breaks as U+2029)."""
        return self.text_view.textCursor().selectedText().replace("\u2029", "\n")

    def open_file(self) -> None:
        if self.path and confirm_open_file(self, self.path):
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.path))


def _plain_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label
