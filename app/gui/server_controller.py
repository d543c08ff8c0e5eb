"""The local server for other apps, as the window runs it: on and off with Settings → Server, in
front of whatever local model the window has loaded, its key kept in the keyring, its requests
counted in the status bar and listed in a panel. Starting and stopping run off the GUI thread."""
from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.gui.operations import Tickets, run_in_background
from engine.server.keys import new_key
from engine.server.ledger import Ledger, ServedRequest
from engine.server.relay import Upstream


class ServerController(QObject):
    state_changed = Signal(str, bool)   # indicator text ('' hides it), whether it is a problem
    key_created = Signal(str, str)      # a new key and the server's URL: shown to the user once
    problem = Signal(str)               # why the server could not start
    requests_changed = Signal()
    _served = Signal()

    def __init__(self, settings, engine, parent: QObject | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.settings = settings
        self.engine = engine
        self.ledger = Ledger(on_change=lambda _record: self._served.emit())
        self._served.connect(self._on_served)
        self._server = None
        self._running: tuple | None = None   # (port, all interfaces) of the running server
        self._key = ""
        self._tickets = Tickets()

    # -- public ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        return self._server.base_url if self._server is not None else ""

    def apply_settings(self) -> None:
        """Start, stop or move the server as Settings → Server now say."""
        self.ledger.log_contents = bool(self.settings.get("server/log_contents"))
        wanted = ((int(self.settings.get("server/port")), bool(self.settings.get("server/all_interfaces")))
                  if self.settings.get("server/enabled") else None)
        if wanted == self._running:
            return
        new_key_made = self._ensure_key() if wanted else False
        old, self._server, self._running = self._server, None, wanted
        ticket = self._tickets.next()
        if wanted is None:
            self.state_changed.emit("", False)
        else:
            self.state_changed.emit("Server starting…", False)

        def work():  # noqa: ANN202
            if old is not None:
                old.stop()
            if wanted is None:
                return None
            return self._start(*wanted)

        def started(server) -> None:  # noqa: ANN001
            if server is None:
                return
            if not self._tickets.is_current(ticket):
                run_in_background(server.stop)
                return
            self._server = server
            self._show_state()
            if new_key_made:
                self.key_created.emit(self._key, server.base_url)

        def failed(exc: BaseException) -> None:
            self._running = None
            self.state_changed.emit("Server off: could not start", True)
            self.problem.emit(str(exc))

        run_in_background(work, on_success=started, on_failure=failed, ticket=ticket, tickets=self._tickets)

    def regenerate_key(self) -> str:
        """A new key at once: apps holding the old one get 401 from the next request."""
        self._key = new_key()
        self.settings.set("server/api_key", self._key)
        self.key_created.emit(self._key, self.base_url or f"http://127.0.0.1:{self.settings.get('server/port')}/v1")
        return self._key

    def shutdown(self) -> None:
        self._tickets.invalidate()
        if self._server is not None:
            self._server.stop(timeout=3)
        self._server = None
        self._running = None

    def request_rows(self) -> tuple[str, list[tuple[str, ...]], list[str]]:
        """The panel's summary, rows and each row's contents (empty unless logging is on)."""
        records = self.ledger.recent()
        rows = [(time.strftime("%H:%M:%S", time.localtime(r.at)), r.client, r.model,
                 f"{r.prompt_tokens or 0} + {r.completion_tokens}", f"{r.seconds:.1f}",
                 r.outcome + (f" · stepped aside {r.pauses}×" if r.pauses else "")) for r in records]
        details = [_contents(r) for r in records]
        where = self.base_url or "off"
        summary = f"Server: {where} · {self.ledger.served} served · {self.ledger.active} answering now"
        return summary, rows, details

    # -- internals ---------------------------------------------------------------------
    def _ensure_key(self) -> bool:
        """The stored key (read once: server threads never touch the keyring); a new one when
        there is none, which the user is then shown once."""
        self._key = self.settings.get("server/api_key") or ""
        if self._key:
            return False
        self._key = new_key()
        self.settings.set("server/api_key", self._key)
        return True

    def _start(self, port: int, all_interfaces: bool):  # noqa: ANN202 - runs off the GUI thread
        from engine.server.front import create_front
        from engine.server.serve import LocalServer

        app = create_front(self._upstream, api_key=lambda: self._key, ledger=self.ledger)
        server = LocalServer(app, port=port, all_interfaces=all_interfaces)
        server.start()
        return server

    def _upstream(self) -> Upstream | None:
        """The window's local model right now (None while loading, or with a remote server)."""
        endpoint = self.engine.endpoint
        host = endpoint.host if endpoint is not None else None
        if host is None or host.port is None:
            return None
        return Upstream(host.base_url, host.api_key, Path(host.config.model_path).name, host.turns)

    def _on_served(self) -> None:
        self._show_state()
        self.requests_changed.emit()

    def _show_state(self) -> None:
        if self._server is None:
            return
        served = self.ledger.served
        where = "all networks" if self._running and self._running[1] else "this computer"
        self.state_changed.emit(f"Serving :{self._server.port} ({where}) · {served} request{'s' if served != 1 else ''}",
                                False)


def _contents(record: ServedRequest) -> str:
    if not record.messages and not record.answer:
        return ""
    lines = [f"{m.get('role', '?')}: {_text(m.get('content'))}" for m in record.messages if isinstance(m, dict)]
    lines.append(f"answer: {record.answer}")
    return "\n".join(lines)


def _text(content) -> str:  # noqa: ANN001
    if isinstance(content, list):
        return " ".join(p.get("text", "[image]") if isinstance(p, dict) else "" for p in content)
    return content if isinstance(content, str) else json.dumps(content)
