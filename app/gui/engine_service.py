"""Keeps a chat endpoint available to the window: the local engine host (started, watched and
restarted off the GUI thread) or a remote OpenAI-compatible server. Which model file becomes
which host, and the fall back from GPU to CPU, are the engine's (engine/llm/endpoint.py).

Signals say what happened; nothing here blocks the GUI thread."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.gui.operations import Tickets, run_in_background
from engine.llm.client import ChatClient
from engine.llm.endpoint import Endpoint, EndpointPlan, open_endpoint
from engine.llm.host import EngineError, EngineHost

RESTARTS_PER_MINUTE = 3


class EngineService(QObject):
    state_changed = Signal(str)          # 'idle' | 'loading' | 'ready' | 'failed'
    model_did_load = Signal(str)         # label
    model_failed = Signal(str)           # user-facing reason
    engine_died = Signal(str)            # what happened; a restart follows
    gpu_fell_back = Signal(str)          # the GPU could not be used; running on the CPU, and why
    remote_models_listed = Signal(list)  # the model names a remote server offers
    _died_in_thread = Signal(str)

    def __init__(self, log_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._log_dir = log_dir
        self._endpoint: Endpoint | None = None
        self._plan: EndpointPlan | None = None
        self._tickets = Tickets()
        self._restarts: list[float] = []
        self.state = "idle"
        self.last_error = ""
        self._died_in_thread.connect(self._on_died)

    # -- public ----------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.state == "ready" and self._endpoint is not None

    @property
    def endpoint(self) -> Endpoint | None:
        return self._endpoint if self.ready else None

    @property
    def client(self) -> ChatClient | None:
        return self._endpoint.client if self.ready else None

    @property
    def plan(self) -> EndpointPlan | None:
        return self._plan

    @property
    def host(self) -> EngineHost | None:
        return self._endpoint.host if self._endpoint else None

    def load(self, plan: EndpointPlan) -> None:
        """Switch to `plan` in the background; stale loads are dropped if the user switches again."""
        self._plan = plan
        ticket = self._tickets.next()
        self._set_state("loading")
        old, self._endpoint = self._endpoint, None

        def work():
            if old is not None:
                old.close()
            endpoint = open_endpoint(plan, log_dir=self._log_dir,
                                     on_death=lambda report: self._died_in_thread.emit(report))
            if not self._tickets.is_current(ticket):  # the user switched again meanwhile
                endpoint.close()
                return None
            return endpoint

        run_in_background(work, on_success=self._loaded, on_failure=self._failed,
                          ticket=ticket, tickets=self._tickets)

    def restart(self) -> None:
        if self._plan is not None:
            self.load(self._plan)

    def shutdown(self) -> None:
        self._tickets.invalidate()
        if self._endpoint:
            self._endpoint.close()
        self._endpoint = None
        self._set_state("idle")

    # -- internals -------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    def _loaded(self, endpoint: Endpoint | None) -> None:
        if endpoint is None:
            return
        self._endpoint = endpoint
        self.last_error = ""
        self._set_state("ready")
        self.model_did_load.emit(endpoint.label)
        if endpoint.models:
            self.remote_models_listed.emit(list(endpoint.models))
        if endpoint.gpu_note:
            self.gpu_fell_back.emit(endpoint.gpu_note)

    def _failed(self, exc: BaseException) -> None:
        message = exc.message if isinstance(exc, EngineError) else str(exc)
        self.last_error = message
        self._set_state("failed")
        self.model_failed.emit(message)

    def _on_died(self, report: str) -> None:
        """The host died on its own: tell the user and restart, unless it keeps dying."""
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < 60] + [now]
        if len(self._restarts) > RESTARTS_PER_MINUTE:
            self.last_error = report + " It keeps failing, so Hearth stopped restarting it; pick another model or restart the engine."
            self._set_state("failed")
            self.model_failed.emit(self.last_error)
            return
        self.engine_died.emit(report + " Restarting it…")
        self.restart()
