"""One cancel type for the whole engine: an answer, a download, a transcription.

Set from any thread (the GUI, a signal handler, a test); the work polls `cancelled` between
its steps. Work blocked in a read that polling cannot reach (an HTTP stream waiting for its
next token) registers a closer with `on_cancel`, and cancelling calls it at once.
"""
from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """Raised by `raise_if_cancelled` where stopping early is easiest as an exception."""


class Cancel:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._closers: list[Callable[[], object]] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            closers, self._closers = self._closers, []
        for closer in closers:
            _quietly(closer)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def on_cancel(self, closer: Callable[[], object]) -> None:
        """Call `closer` when cancelled (at once if it already is)."""
        with self._lock:
            if not self._event.is_set():
                self._closers.append(closer)
                return
        _quietly(closer)

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to `timeout` seconds, waking early when cancelled; True if cancelled."""
        return self._event.wait(timeout)


def _quietly(closer: Callable[[], object]) -> None:
    try:
        closer()
    except Exception:  # noqa: BLE001 - closing something already dead is fine
        pass
