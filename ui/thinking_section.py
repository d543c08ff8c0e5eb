"""A reasoning model's thought, apart from its answer: "Thinking… 12 s" while it streams, then
folded to "Thought for 14 s ▸". Plain text (the model's words are never markup); its own Copy."""
from __future__ import annotations

import time

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPlainTextEdit, QToolButton, QVBoxLayout


class ThinkingSection(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("thinking")
        self._started = time.monotonic()
        self._done = False
        self._seconds: float | None = None
        self._tokens: int | None = None
        self.toggle = QToolButton()
        self.toggle.setObjectName("thinkingHeader")
        self.toggle.setAutoRaise(True)
        self.toggle.clicked.connect(lambda: self.set_open(not self.body.isVisible()))
        self.copy_button = QToolButton(text="Copy")
        self.copy_button.setAutoRaise(True)
        self.copy_button.setToolTip("Copy the thinking")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text()))
        self.body = QPlainTextEdit()
        self.body.setObjectName("thinkingText")
        self.body.setReadOnly(True)
        self.body.setMaximumHeight(160)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.toggle)
        top.addStretch(1)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addLayout(top)
        layout.addWidget(self.body)
        self._show_header()

    def text(self) -> str:
        return self.body.toPlainText()

    def append(self, delta: str) -> None:
        cursor = self.body.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText(delta)
        self.body.ensureCursorVisible()
        self._show_header()

    def set_text(self, text: str) -> None:
        self.body.setPlainText(text)

    def answer_began(self) -> None:
        """The answer's first words: the thought is over and folds away."""
        if not self._done:
            self.finish(time.monotonic() - self._started)

    def finish(self, seconds: float | None, tokens: int | None = None) -> None:
        self._done = True
        self._seconds = seconds
        self._tokens = tokens
        self.set_open(False)

    def set_open(self, open_: bool) -> None:
        self.body.setVisible(open_)
        self._show_header()

    def _show_header(self) -> None:
        if not self._done:
            self.toggle.setText(f"Thinking… {time.monotonic() - self._started:.0f} s")
            return
        took = f" for {self._seconds:.0f} s" if self._seconds is not None else ""
        tokens = f" · {self._tokens} tokens" if self._tokens else ""
        self.toggle.setText(f"Thought{took}{tokens} {'▾' if self.body.isVisible() else '▸'}")
