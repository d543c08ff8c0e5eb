"""The context meter by the composer: how much of the model's window the next request will use.
Amber when sending would push old turns out of the prompt; the tooltip gives the breakdown."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget


def short(tokens: int) -> str:
    return f"{tokens / 1000:.1f}k" if tokens >= 1000 else str(tokens)


class ContextMeter(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("contextMeter")
        self.bar = QProgressBar()
        self.bar.setObjectName("contextBar")
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.label = QLabel("")
        self.label.setObjectName("contextLabel")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.bar)
        layout.addWidget(self.label)
        self.warning = False
        self.show_unknown("The context meter waits for the model.")

    def show_unknown(self, why: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.label.setText("–")
        self.setToolTip(why)
        self._set_warning(False)

    def show_reading(self, reading) -> None:  # noqa: ANN001
        """`reading` is an engine.chat.records.ContextReading, handed over by app/ (importing it
        here would load the engine.chat package, and with it the whole answer pipeline)."""
        self.bar.setRange(0, max(reading.n_ctx, 1))
        self.bar.setValue(min(reading.used, reading.n_ctx))
        about = "" if reading.exact else "~"
        self.label.setText(f"{about}{short(reading.used)} / {short(reading.n_ctx)}")
        lines = [f"Next request: {about}{reading.used} of {reading.n_ctx} tokens"
                 + ("" if reading.exact else " (an estimate: this server does not count tokens)"),
                 f"  System prompt: {reading.system}", f"  Earlier turns: {reading.history}",
                 f"  Images: {reading.images}", f"  Your draft: {reading.draft}",
                 f"  Kept for the answer: {reading.answer_room}"]
        if reading.excerpts:
            lines.append(f"  Kept for passages of your documents: up to {reading.excerpts}")
        if reading.left_out_now:
            lines.append(f"{reading.left_out_now} earlier message{'s are' if reading.left_out_now != 1 else ' is'} "
                         "already out of the prompt.")
        pushed = reading.pushes_out
        if pushed:
            lines.append(f"Sending this pushes {pushed} more old message{'s' if pushed != 1 else ''} out of the prompt.")
            self.label.setText(f"{self.label.text()} · −{pushed}")
        self.setToolTip("\n".join(lines))
        self._set_warning(bool(pushed) or reading.over)

    def _set_warning(self, warning: bool) -> None:
        self.warning = warning
        self.setProperty("warning", warning)
        self.style().unpolish(self)
        self.style().polish(self)
        for child in (self.bar, self.label):
            child.setProperty("warning", warning)
            child.style().unpolish(child)
            child.style().polish(child)
