"""The local server's memory of recent requests: what the status bar counts and the request panel
lists. Contents (the messages) are kept only when the user turned logging on."""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ServedRequest:
    at: float                     # wall-clock time it arrived
    client: str                   # the app's address (and User-Agent)
    path: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int
    seconds: float
    outcome: str                  # "ok", "cancelled", or why it failed
    pauses: int = 0               # times it stepped aside for the window
    messages: tuple = ()          # only with logging on
    answer: str = ""              # only with logging on


class Ledger:
    def __init__(self, *, keep: int = 200, log_contents: bool = False,
                 on_change: Callable[[ServedRequest], None] | None = None) -> None:
        self.log_contents = log_contents
        self.on_change = on_change
        self._recent: deque[ServedRequest] = deque(maxlen=keep)
        self._served = 0
        self._active = 0
        self._lock = threading.Lock()

    def started(self) -> None:
        with self._lock:
            self._active += 1

    def finished(self, record: ServedRequest) -> None:
        if not self.log_contents:
            record = ServedRequest(**{**record.__dict__, "messages": (), "answer": ""})
        with self._lock:
            self._active -= 1
            self._served += 1
            self._recent.append(record)
        if self.on_change is not None:
            self.on_change(record)

    @property
    def served(self) -> int:
        with self._lock:
            return self._served

    @property
    def active(self) -> int:
        with self._lock:
            return self._active

    def recent(self) -> list[ServedRequest]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._recent))


def now() -> float:
    return time.time()
