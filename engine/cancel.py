"""One cancel type for the whole engine: an answer, a download, a transcription.

Set from any thread (the GUI, a signal handler, a test); the work polls `cancelled` between
its steps. Work blocked in a read that polling cannot reach (an HTTP stream waiting for its
next token) registers a closer with `on_cancel`, and cancelling calls it at once.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


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

    @contextmanager
    def closing(self, closer: Callable[[], object]) -> Iterator[None]:
        """Call `closer` if cancelled while the block runs, and never once it has left: a pooled
        connection outlives the answer that used it, and shutting it then would break the next
        request on it (or, closed from here, a read on whatever reused its file descriptor)."""
        gate = threading.Lock()
        armed = True

        def guarded() -> None:
            with gate:
                if armed:
                    closer()

        self.on_cancel(guarded)
        try:
            yield
        finally:
            with gate:
                armed = False
            with self._lock:
                if guarded in self._closers:
                    self._closers.remove(guarded)

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


def stream_socket(stream: object) -> socket.socket | None:
    """The socket under an httpcore network stream (an httpx response's "network_stream"
    extension, or a trace hook's new connection), for wake_reader; None for anything else."""
    get_extra_info = getattr(stream, "get_extra_info", None)
    sock = get_extra_info("socket") if get_extra_info is not None else None
    return sock if isinstance(sock, socket.socket) else None


def wake_reader(sock: socket.socket) -> None:
    """Wake a read blocked on `sock` from another thread. Closing it would not wake the read
    (Linux keeps the socket alive under it), and would free its descriptor for the next socket
    opened, which the read could then end up on; the reading thread closes it itself."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain call, also for a TLS socket
    except OSError:
        pass
