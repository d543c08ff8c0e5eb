"""Runs the front (engine/server/front.py) on a socket of its own, in a thread: the window keeps
its event loop, `hearth serve` its main thread for signals."""
from __future__ import annotations

import socket
import threading
import time

LOCAL = "127.0.0.1"
EVERYWHERE = "0.0.0.0"  # noqa: S104 - only behind the user's second, explicit switch


class ServerError(Exception):
    """The server could not start; str() says why in words for the user."""


class LocalServer:
    def __init__(self, app, *, port: int, all_interfaces: bool = False) -> None:  # noqa: ANN001 - ASGI app
        self.app = app
        self.bind_host = EVERYWHERE if all_interfaces else LOCAL
        self.requested_port = port
        self.port: int | None = None
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOCAL if self.bind_host == LOCAL else self._lan_address()}:{self.port}/v1"

    def start(self, timeout: float = 10.0) -> None:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.bind_host, self.requested_port))
        except OSError as exc:
            sock.close()
            raise ServerError(f"Port {self.requested_port} is in use or not allowed ({exc.strerror or exc}); "
                              "choose another port.") from exc
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="hearth-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise ServerError("The server stopped while starting.")
            if time.monotonic() > deadline:
                raise ServerError("The server did not start in time.")
            time.sleep(0.01)

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._server = None
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @staticmethod
    def _lan_address() -> str:
        """This computer's address on its network, for the URL shown to other machines."""
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent, the kernel picks a route
            return probe.getsockname()[0]
        except OSError:
            return LOCAL
        finally:
            probe.close()
