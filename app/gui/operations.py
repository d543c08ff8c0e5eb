"""The one way app/ runs engine work off the GUI thread (after Anki's CollectionOp/QueryOp).

`run_in_background(work, on_success=..., on_failure=..., on_progress=...)` runs `work` on
Qt's thread pool. Results come back through queued signals of a small QObject channel, so
the callbacks run on the GUI thread. Never touch a widget from inside `work` itself.

A `Ticket` (git-cola's counter token) lets a caller drop results that arrive after the user
moved on: `ticket = tickets.next()`; a result is delivered only if `tickets.is_current(ticket)`.
"""
from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal


class Tickets:
    """A counter whose latest value alone is current: stale answers are dropped."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._current = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._current = next(self._counter)
            return self._current

    def invalidate(self) -> None:
        self.next()

    def is_current(self, ticket: int) -> bool:
        return ticket == self._current


class _Channel(QObject):
    succeeded = Signal(object)
    failed = Signal(object, str)
    progressed = Signal(object)


def _runner(work: Callable[..., Any], channel: _Channel, wants_progress: bool) -> Callable[[], None]:
    """A plain callable for the pool: PySide6 6.12 corrupts None's refcount when a Python
    QRunnable subclass's run() returns, so no QRunnable subclass is used."""

    def run() -> None:
        try:
            result = work(channel.progressed.emit) if wants_progress else work()
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never swallowed
            channel.failed.emit(exc, traceback.format_exc())
        else:
            channel.succeeded.emit(result)

    return run


_live: set = set()  # channels and runnables stay alive until their result is delivered


def run_in_background(
    work: Callable[..., Any],
    *,
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    on_progress: Callable[[Any], None] | None = None,
    ticket: int | None = None,
    tickets: Tickets | None = None,
    pool: QThreadPool | None = None,
) -> None:
    """Run `work` off the GUI thread; callbacks run on the GUI thread.

    With `on_progress`, `work` receives one argument: a function it may call with any value.
    With `ticket` and `tickets`, callbacks for a ticket that is no longer current are dropped.
    """
    channel = _Channel()
    runnable = _runner(work, channel, on_progress is not None)
    _live.add(channel)
    _live.add(runnable)

    def release() -> None:
        # Deferred: deleting the channel inside its own signal's delivery crashes PySide.
        QTimer.singleShot(0, lambda: (_live.discard(channel), _live.discard(runnable)))

    def current() -> bool:
        return ticket is None or tickets is None or tickets.is_current(ticket)

    def done_ok(result: Any) -> None:
        release()
        if on_success and current():
            on_success(result)

    def done_bad(exc: BaseException, tb: str) -> None:
        release()
        if not current():
            return
        if on_failure:
            on_failure(exc)
        else:
            import sys

            print(tb, file=sys.stderr)

    channel.succeeded.connect(done_ok)
    channel.failed.connect(done_bad)
    if on_progress:
        channel.progressed.connect(lambda value: current() and on_progress(value))
    (pool or QThreadPool.globalInstance()).start(runnable)
