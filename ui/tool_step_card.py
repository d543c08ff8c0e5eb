"""One tool call in the transcript. While it waits, it shows exactly what would run (the tool and
its full arguments, code highlighted) with Allow once / Allow for this chat / Deny; afterwards
it folds to one line ("Ran Python · 0.4 s ▸") that opens to the output.

Arguments and results are the model's and the tools' words: shown as plain text (code in a
read-only editor), never as markup, so nothing in them can fetch or run anything."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QToolButton, QVBoxLayout

from engine.store.records import ToolStep, readable_arguments
from ui.code_block import CodeBlock

TITLES = {"calculator": "Calculator", "python": "Python", "files": "Files", "fetch": "Fetch a web page"}
DONE_VERBS = {"done": "Ran", "failed": "Failed", "denied": "Denied", "stopped": "Stopped"}


def title_of(name: str) -> str:
    return TITLES.get(name, name)


class ToolStepCard(QFrame):
    decided = Signal(int, str)   # step id, 'once' | 'chat' | 'denied'

    def __init__(self, step: ToolStep, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("toolStep")
        self.step = step
        self.header = QLabel()
        self.header.setObjectName("toolStepHeader")
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        self.toggle = QToolButton(text="▸")
        self.toggle.setAutoRaise(True)
        self.toggle.setToolTip("Show or hide what ran and what came back")
        self.toggle.clicked.connect(lambda: self.set_open(not self._open))
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.header, 1)
        top.addWidget(self.toggle)
        code, language = readable_arguments(step.name, step.arguments)
        self.arguments = CodeBlock(code, language or "text")
        self.result = QPlainTextEdit()
        self.result.setObjectName("toolResult")
        self.result.setReadOnly(True)
        self.allow_once = QPushButton("Allow once")
        self.allow_chat = QPushButton("Allow for this chat")
        self.deny = QPushButton("Deny")
        self.deny.setToolTip("Don't run it (Esc); the model is told you said no")
        self.allow_chat.setVisible(step.name != "fetch")  # a URL can carry data out: always ask
        self.allow_once.clicked.connect(lambda: self._decide("once"))
        self.allow_chat.clicked.connect(lambda: self._decide("chat"))
        self.deny.clicked.connect(lambda: self._decide("denied"))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.allow_once)
        buttons.addWidget(self.allow_chat)
        buttons.addWidget(self.deny)
        buttons.addStretch(1)
        self._buttons = buttons
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.arguments)
        layout.addLayout(buttons)
        layout.addWidget(self.result)
        self._open = False
        self._waiting = False
        self.update_step(step)

    @property
    def waiting(self) -> bool:
        return self._waiting

    def set_waiting(self, waiting: bool) -> None:
        """The engine is asking the user about this call."""
        self._waiting = waiting
        for button in (self.allow_once, self.deny):
            button.setVisible(waiting)
        self.allow_chat.setVisible(waiting and self.step.name != "fetch")
        if waiting:
            self.set_open(True)
            self.allow_once.setFocus()
        self._show_header()

    def update_step(self, step: ToolStep) -> None:
        self.step = step
        if step.state != "requested":
            self._waiting = False
            for button in (self.allow_once, self.allow_chat, self.deny):
                button.setVisible(False)
        if step.result is not None:
            self.result.setPlainText(step.result)
            lines = min(10, step.result.count("\n") + 1)
            self.result.setFixedHeight(self.result.fontMetrics().lineSpacing() * lines + 12)
        self._show_header()
        # Once it has run (or not), it folds to its one line; ▸ opens it again.
        self.set_open(self._open and step.state not in DONE_VERBS)

    def set_open(self, open_: bool) -> None:
        self._open = open_
        self.arguments.setVisible(open_)
        self.result.setVisible(open_ and self.step.result is not None)
        self.toggle.setText("▾" if open_ else "▸")

    def _show_header(self) -> None:
        step, name = self.step, title_of(self.step.name)
        if self._waiting:
            text = f"The model wants to use {name}. Allow it?"
        elif step.state == "requested":
            text = f"{name}: waiting…"
        elif step.state == "running":
            text = f"Running {name}…"
        else:
            text = f"{DONE_VERBS.get(step.state, step.state)} {name}"
            if step.elapsed_s:
                text += f" · {step.elapsed_s:.1f} s"
            if step.result and step.state in ("done", "failed"):
                lines = [line for line in step.result.strip().splitlines()  # skip "[stdout]"-style labels
                         if line.strip() and not (line.startswith("[") and line.rstrip().endswith("]") and " " not in line)]
                first = lines[0] if lines else ""
                text += f" · {first[:80]}"
        self.header.setText(text)
        self.setProperty("state", step.state)
        self.style().unpolish(self)
        self.style().polish(self)

    def _decide(self, decision: str) -> None:
        if self._waiting:
            self.set_waiting(False)
            self.decided.emit(self.step.id, decision)
