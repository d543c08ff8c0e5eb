"""The Read aloud button on every answer in the transcript, kept in step with the speech.

Answers come and go as chats open, pages load and Regenerate replaces them, so each one is met
as it joins the transcript's column (a ChildAdded event there): its button is connected, shown
disabled with the reason when Hearth cannot speak, and shows "Stop reading" while it is read.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal

from ui.message_list import MessageList
from ui.message_widget import MessageWidget


class ReadAloudButtons(QObject):
    requested = Signal(int)   # message id: the user pressed Read aloud (or Stop reading) on it

    def __init__(self, view: MessageList, unavailable: str | None = None) -> None:
        super().__init__(view)
        self._view = view
        self._unavailable = unavailable   # why Hearth cannot speak, or None
        self._reading = 0
        view.widget().installEventFilter(self)
        for widget in view.widgets():
            self._meet(widget)

    def show_reading(self, message_id: int) -> None:
        """`message_id` is being read now (0: none)."""
        for mid in {self._reading, message_id} - {0}:
            if widget := self._view.widget_for(mid):
                widget.set_reading(mid == message_id)
        self._reading = message_id

    def set_unavailable(self, reason: str | None) -> None:
        """Hearth can (None) or cannot speak, and why: every answer's button says so."""
        self._unavailable = reason
        for widget in self._view.widgets():
            widget.set_read_aloud_unavailable(reason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.ChildAdded and isinstance(event.child(), MessageWidget):
            self._meet(event.child())
        return False

    def _meet(self, widget: MessageWidget) -> None:
        if widget.read_aloud_button is None or widget.property("readAloudWired"):
            return
        widget.setProperty("readAloudWired", True)
        widget.read_aloud_requested.connect(self.requested)
        widget.set_read_aloud_unavailable(self._unavailable)
        widget.set_reading(widget.message_id == self._reading)
