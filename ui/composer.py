"""Where the user writes. Enter sends, Shift+Enter starts a new line, Esc stops the answer (or
cancels an edit). Usable at once: a message sent before the model is ready waits for it."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget


class ComposerEdit(QPlainTextEdit):
    submit = Signal()
    stop = Signal()
    files_pasted = Signal(list)        # local file paths (copied files, dropped files)
    image_pasted = Signal(object)      # QImage from the clipboard

    def canInsertFromMimeData(self, source: QMimeData) -> bool:  # noqa: N802
        return source.hasImage() or source.hasUrls() or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802
        """Images and files become attachments; text is pasted as plain text, never as HTML."""
        files = [u.toLocalFile() for u in source.urls() if u.isLocalFile()] if source.hasUrls() else []
        if files:
            self.files_pasted.emit(files)
        elif source.hasImage():
            self.image_pasted.emit(source.imageData())
        elif source.hasText():
            self.insertPlainText(source.text())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submit.emit()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.stop.emit()
            return
        super().keyPressEvent(event)


class Composer(QWidget):
    send_requested = Signal(str)
    stop_requested = Signal()
    cancel_edit_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.edit = ComposerEdit()
        self.edit.setObjectName("composerEdit")
        self.edit.setPlaceholderText("Message Hearth…  (Enter to send, Shift+Enter for a new line)")
        self.edit.setTabChangesFocus(True)
        self.edit.setFixedHeight(84)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("sendButton")
        self.send_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.setVisible(False)
        self.notice = QLabel()
        self.notice.setObjectName("composerNotice")
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.edit_bar = QWidget()
        self.edit_bar.setObjectName("editBar")
        self.edit_label = QLabel("Editing your message: sending it replaces it and the answer after it.")
        self.edit_label.setObjectName("editLabel")
        self.cancel_edit_button = QPushButton("Cancel")
        self.cancel_edit_button.setToolTip("Keep the message as it was (Esc)")
        self.cancel_edit_button.clicked.connect(self.cancel_edit_requested.emit)
        bar = QHBoxLayout(self.edit_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.edit_label, 1)
        bar.addWidget(self.cancel_edit_button)
        self.edit_bar.setVisible(False)
        self._tools = QHBoxLayout()
        self._tools.setContentsMargins(0, 0, 0, 0)
        self._above = QVBoxLayout()
        self._above.setContentsMargins(0, 0, 0, 0)
        buttons = self._buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addLayout(self._tools)
        row.addWidget(self.edit, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 4, 12, 8)
        layout.addWidget(self.notice)
        layout.addWidget(self.edit_bar)
        layout.addLayout(self._above)
        layout.addLayout(row)
        self.edit.submit.connect(self._submit)
        self.edit.stop.connect(self.stop_requested.emit)
        self.send_button.clicked.connect(self._submit)
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self._can_send_empty: list = []   # predicates: any true lets Send go with no words (attachments)

    def add_tool_widget(self, widget: QWidget) -> None:
        """Buttons left of the text box (attach, push-to-talk)."""
        self._tools.addWidget(widget)

    def add_meter(self, widget: QWidget) -> None:
        """Under Send: the context meter."""
        self._buttons.addWidget(widget)

    def add_above_widget(self, widget: QWidget) -> None:
        """Strips above the text box (attachment thumbnails)."""
        self._above.addWidget(widget)

    def allow_empty_send_when(self, predicate) -> None:
        """Send with no words when `predicate()` (images, documents); each caller adds its own."""
        self._can_send_empty.append(predicate)

    def _submit(self) -> None:
        text = self.edit.toPlainText()
        if not text.strip() and not any(can() for can in self._can_send_empty):
            return
        self.send_requested.emit(text)  # while an answer streams, the controller queues it

    def take_text(self) -> str:
        text = self.edit.toPlainText()
        self.edit.clear()
        return text

    def set_text(self, text: str) -> None:
        self.edit.setPlainText(text)
        cursor = self.edit.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.edit.setTextCursor(cursor)
        self.edit.setFocus()

    def insert_text(self, text: str) -> None:
        """Insert at the cursor (a voice transcript), with spacing that reads naturally."""
        cursor = self.edit.textCursor()
        before = self.edit.toPlainText()[:cursor.position()]
        if before and not before[-1].isspace():
            text = " " + text
        cursor.insertText(text)
        self.edit.setTextCursor(cursor)
        self.edit.setFocus()

    def set_streaming(self, streaming: bool) -> None:
        self.stop_button.setVisible(streaming)
        self.send_button.setVisible(not streaming)

    def set_editing(self, editing: bool) -> None:
        self.edit_bar.setVisible(editing)

    def is_editing(self) -> bool:
        return not self.edit_bar.isHidden()

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))
