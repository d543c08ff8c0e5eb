"""The window's answer to the engine's question "may this tool call run?".

The engine asks from the answer's thread and waits; this object carries the question to the GUI
thread as a signal, and the user's click (or Esc, or Stop) back through a threading.Event. It
never decides by itself: no answer in time means no run.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from engine.cancel import Cancel
from engine.tools.approval import Approval, ToolRequest


class ToolApprovals(QObject):
    approval_needed = Signal(object)   # ToolRequest, on the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._waiting: dict[int, tuple[threading.Event, list[Approval]]] = {}
        self._lock = threading.Lock()

    def __call__(self, request: ToolRequest, cancel: Cancel) -> Approval:
        """On the answer's thread: ask, then wait for the user (or Stop)."""
        answered = threading.Event()
        verdict: list[Approval] = []
        with self._lock:
            self._waiting[request.step_id] = (answered, verdict)
        cancel.on_cancel(answered.set)
        self.approval_needed.emit(request)
        answered.wait()
        with self._lock:
            self._waiting.pop(request.step_id, None)
        return verdict[0] if verdict and not cancel.cancelled else Approval.DENIED

    @property
    def pending(self) -> list[int]:
        with self._lock:
            return list(self._waiting)

    def answer(self, step_id: int, decision: str) -> None:
        """From the GUI: 'once', 'chat' or 'denied'."""
        with self._lock:
            waiting = self._waiting.get(step_id)
        if waiting is None:
            return
        answered, verdict = waiting
        verdict.append(Approval(decision))
        answered.set()

    def deny_all(self) -> bool:
        """Esc: every call waiting is denied. True if there was one."""
        steps = self.pending
        for step_id in steps:
            self.answer(step_id, "denied")
        return bool(steps)
