"""Whose turn it is on the engine host: the window's answers first, outside apps' requests after.

The host runs one answer at a time, and llama_cpp.server cuts a streaming answer short as soon as
another request waits for the model. So nothing may reach the host while the window streams, and
an outside request (Hearth's local server) must step aside the moment the window wants to answer:

- `foreground()` (the window's answers) never waits behind a queue. Entering it asks the outside
  request holding the host, if any, to yield (its `yield_now` closes its stream), and waits only
  until that request has let go: the token being decoded, not the rest of its answer.
- `background()` (outside requests) waits while any foreground answer runs, then takes the host
  in arrival order, one at a time. A request that was asked to yield goes back to the head of
  the line and continues its answer from where it stopped once the window is done.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Turn:
    """An outside request's hold on the host; `yielded` says the window asked for it back."""

    def __init__(self) -> None:
        self.yielded = False
        self._closers: list[Callable[[], object]] = []
        self._lock = threading.Lock()

    def on_yield(self, closer: Callable[[], object]) -> None:
        """Call `closer` (close the upstream stream) when the window asks for the host."""
        with self._lock:
            if not self.yielded:
                self._closers.append(closer)
                return
        _quietly(closer)

    def yield_now(self) -> None:
        with self._lock:
            self.yielded = True
            closers, self._closers = self._closers, []
        for closer in closers:
            _quietly(closer)


class EngineTurns:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._foreground = 0
        self._holder: Turn | None = None
        self._line: deque[object] = deque()

    @contextmanager
    def foreground(self) -> Iterator[None]:
        with self._cond:
            self._foreground += 1
            holder = self._holder
        if holder is not None:
            holder.yield_now()
        try:
            with self._cond:
                self._cond.wait_for(lambda: self._holder is None)
            yield
        finally:
            with self._cond:
                self._foreground -= 1
                self._cond.notify_all()

    def join_line(self, *, resuming: bool = False) -> object:
        """A place in the line of outside requests (`resuming`: one that yielded to the window
        keeps its place at the head)."""
        ticket = object()
        with self._cond:
            if resuming:
                self._line.appendleft(ticket)
            else:
                self._line.append(ticket)
        return ticket

    def take(self, ticket: object, timeout: float | None = None) -> Turn | None:
        """The host for the request holding `ticket`, once it is free and the ticket is first;
        None after `timeout` (the ticket keeps its place: call again, or `leave_line`)."""
        with self._cond:
            ready = self._cond.wait_for(
                lambda: self._foreground == 0 and self._holder is None and self._line[0] is ticket, timeout)
            if not ready:
                return None
            self._line.popleft()
            self._holder = Turn()
            return self._holder

    def leave_line(self, ticket: object) -> None:
        with self._cond:
            if ticket in self._line:
                self._line.remove(ticket)
                self._cond.notify_all()

    def release(self, turn: Turn) -> None:
        with self._cond:
            if self._holder is turn:
                self._holder = None
                self._cond.notify_all()

    @contextmanager
    def background(self, *, resuming: bool = False) -> Iterator[Turn]:
        """Hold the host for one outside request, waiting as long as it takes."""
        ticket = self.join_line(resuming=resuming)
        try:
            turn = self.take(ticket)
        except BaseException:
            self.leave_line(ticket)
            raise
        try:
            yield turn
        finally:
            self.release(turn)

    @property
    def waiting(self) -> int:
        """Outside requests waiting for the host (not counting the one holding it)."""
        with self._cond:
            return len(self._line)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._foreground > 0 or self._holder is not None


def _quietly(closer: Callable[[], object]) -> None:
    try:
        closer()
    except Exception:  # noqa: BLE001 - closing a stream that is already gone
        pass
