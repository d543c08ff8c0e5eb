"""The window's one adapter to engine/chat: runs an answer off the GUI thread through
`run_in_background` and turns its events into signals.

Answers get a pool of their own (one thread): a long answer must not take one of the shared
pool's threads from a search, a scan or a transcription. A ticket per answer drops the
progress of an answer the user has moved away from; its end is always delivered, so the
window always learns that the answer is over and how it was kept.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QThreadPool, Signal

from app.gui.operations import Tickets, run_in_background
from engine.cancel import Cancel
from collections.abc import Callable

from engine.chat import AnswerDelta, AnswerFailed, AnswerFinished, AnswerPlanned, PromptPlanner, answer
from engine.chat.events import AnswerRetracted, SourcesRetrieved, ThinkingDelta, ToolStepChanged
from engine.chat.excerpts import Retriever
from engine.chat.think_budget import ThinkPlan
from engine.llm.client import Sampling
from engine.tools.approval import Approver, deny_all
from engine.tools.registry import ToolRegistry
from engine.llm.endpoint import Endpoint
from engine.store import Store


class AnswerRunner(QObject):
    planned = Signal(object)   # AnswerPlanned
    delta = Signal(int, str)   # message id, new text
    finished = Signal(object)  # AnswerFinished
    failed = Signal(object)    # AnswerFailed
    tool_step = Signal(object)  # ToolStepChanged
    thought = Signal(int, str)  # message id, more thinking
    retracted = Signal(int, str)  # message id, the end of the answer that was thinking after all
    sources = Signal(object)    # SourcesRetrieved: passages found for the question, saved with the answer

    def __init__(self, store: Store, planner: PromptPlanner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._planner = planner
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._tickets = Tickets()
        self._cancel: Cancel | None = None
        self._closed = False
        self.message_id: int | None = None

    @property
    def running(self) -> bool:
        return self.message_id is not None

    def start(self, endpoint: Endpoint, message_id: int, sampling: Sampling, *,
              tools: Callable[[], ToolRegistry | None] = lambda: None, approver: Approver = deny_all,
              max_rounds: int = 6, think: ThinkPlan | None = None, knowledge: Retriever | None = None) -> None:
        """`tools()` builds the answer's tools on its own thread (a sandbox may take a moment);
        `knowledge` retrieves passages of the user's documents for the question, on that thread too."""
        ticket = self._tickets.next()
        cancel = self._cancel = Cancel()
        self.message_id = message_id
        store, planner = self._store, self._planner

        def work(report):
            """On the answer's thread: every event but the last goes out as progress."""
            last = None
            for event in answer(store, endpoint, planner, message_id, sampling, cancel, tools=tools(),
                                approver=approver, max_rounds=max_rounds, think=think, knowledge=knowledge):
                if isinstance(event, (AnswerFinished, AnswerFailed)):
                    last = event
                else:
                    report(event)
            return last

        def progressed(event) -> None:
            if not self._tickets.is_current(ticket):
                return  # the user moved on: nothing on screen waits for these words
            if isinstance(event, AnswerDelta):
                self.delta.emit(event.message_id, event.text)
            elif isinstance(event, AnswerPlanned):
                self.planned.emit(event)
            elif isinstance(event, ToolStepChanged):
                self.tool_step.emit(event)
            elif isinstance(event, ThinkingDelta):
                self.thought.emit(event.message_id, event.text)
            elif isinstance(event, AnswerRetracted):
                self.retracted.emit(event.message_id, event.text)
            elif isinstance(event, SourcesRetrieved):
                self.sources.emit(event)

        run_in_background(work, on_progress=progressed, on_success=lambda last: self._ended(message_id, last),
                          on_failure=lambda exc: self._ended(message_id, AnswerFailed(
                              message_id, f"Something went wrong while answering: {exc}", "error")),
                          pool=self._pool)

    def stop(self) -> None:
        """Stop generating; the words so far are kept and their end still reported."""
        if self._cancel is not None:
            self._cancel.cancel()

    def abandon(self) -> None:
        """Stop, and drop the words still on their way (the transcript showing them is gone)."""
        self._tickets.invalidate()
        self.stop()

    def close(self) -> None:
        """The window is going: stop, and report nothing more (the history may already be closed)."""
        self._closed = True
        self.abandon()

    def wait(self, timeout_ms: int = 10000) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def _ended(self, message_id: int, event) -> None:
        if self.message_id == message_id:
            self.message_id, self._cancel = None, None
        if self._closed:
            return
        if isinstance(event, AnswerFinished):
            self.finished.emit(event)
        elif isinstance(event, AnswerFailed):
            self.failed.emit(event)
