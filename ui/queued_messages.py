"""Questions asked while an answer streams, shown under it until they are sent: each can go
back to the composer to be edited, be removed, or (after Stop) be sent now."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

PREVIEW_CHARS = 160


class QueuedMessages(QWidget):
    edit_requested = Signal(int)     # index among the shown questions
    remove_requested = Signal(int)
    send_now_requested = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("queuedMessages")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self.rows: list[QFrame] = []
        self.setVisible(False)

    def set_questions(self, questions: list[tuple[str, int]], answering: bool) -> None:
        """(text, image count) per queued question; while `answering` they wait for the answer."""
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = [self._row(i, text, images, answering) for i, (text, images) in enumerate(questions)]
        for row in self.rows:
            self._layout.addWidget(row)
        self.setVisible(bool(self.rows))

    def _row(self, index: int, text: str, images: int, answering: bool) -> QFrame:
        row = QFrame()
        row.setObjectName("queuedMessage")
        state = QLabel("Queued — sent when the answer ends" if answering else "Queued — stopped; send it when ready")
        state.setObjectName("queuedState")
        preview = " ".join(text.split())
        if len(preview) > PREVIEW_CHARS:
            preview = preview[: PREVIEW_CHARS - 1] + "…"
        if images:
            preview += f"  (+{images} image{'s' if images != 1 else ''})"
        words = QLabel(preview)
        words.setObjectName("queuedText")
        words.setTextFormat(Qt.TextFormat.PlainText)  # the user's words, never markup
        words.setWordWrap(True)
        edit = QPushButton("Edit")
        edit.setToolTip("Take it back to the text box")
        edit.clicked.connect(lambda: self.edit_requested.emit(index))
        send = QPushButton("Send now")
        send.setVisible(not answering)
        send.clicked.connect(lambda: self.send_now_requested.emit(index))
        remove = QPushButton("×")
        remove.setToolTip("Remove this queued message")
        remove.setFixedWidth(28)
        remove.clicked.connect(lambda: self.remove_requested.emit(index))
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(state, 1)
        top.addWidget(send)
        top.addWidget(edit)
        top.addWidget(remove)
        layout = QVBoxLayout(row)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(top)
        layout.addWidget(words)
        return row
