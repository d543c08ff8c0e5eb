"""Keeps the context meter by the composer current: re-counted off the GUI thread at most every
COALESCE_MS while the user types (keystrokes in between share one count), when the chat changes,
when an answer ends and when the model changes. A count that arrives after the user moved on is
dropped. A chat that answers from documents keeps room for their passages in the reading."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThreadPool, QTimer

from app.gui.operations import Tickets, run_in_background
from engine.chat import PromptPlanner
from ui.context_meter import ContextMeter

COALESCE_MS = 250


class ContextMeterController(QObject):
    def __init__(self, meter: ContextMeter, draft: Callable[[], str], engine, planner: PromptPlanner,
                 conversation: Callable[[], int | None], images: Callable[[], int],
                 answer_tokens: Callable[[int | None], int],
                 documents: Callable[[int | None], bool] = lambda _conversation: False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.meter = meter
        self._draft = draft
        self._engine = engine
        self._planner = planner
        self._conversation = conversation
        self._images = images
        self._answer_tokens = answer_tokens
        self._documents = documents  # whether the chat's questions retrieve passages (asked off the GUI thread)
        self._tickets = Tickets()
        self._pool = QThreadPool(self)  # its own thread: never behind a model load
        self._pool.setMaxThreadCount(1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self._measure)
        self.measured = 0   # readings shown (tests wait on it)

    def refresh(self, *_: object) -> None:
        """At most one count per COALESCE_MS while keys keep coming: live, never per keystroke."""
        if not self._timer.isActive():
            self._timer.start()

    def _measure(self) -> None:
        endpoint = self._engine.endpoint  # None until a model is ready
        if endpoint is None:
            self._tickets.invalidate()
            self.meter.show_unknown("The context meter shows the next request's size once the model is loaded.")
            return
        conversation, draft, images = self._conversation(), self._draft(), self._images()
        room = self._answer_tokens(conversation)
        planner, documents = self._planner, self._documents
        ticket = self._tickets.next()
        run_in_background(lambda: planner.reading(endpoint, conversation, draft, images, room,
                                                  documents=documents(conversation)),
                          on_success=self._show, on_failure=self._failed, ticket=ticket, tickets=self._tickets,
                          pool=self._pool)

    def _show(self, reading) -> None:
        self.measured += 1
        self.meter.show_reading(reading)

    def _failed(self, exc: BaseException) -> None:
        self.meter.show_unknown(f"The next request could not be counted: {exc}")
