"""Keeps a chat endpoint available to the rest of the app: the local engine host (started,
watched and restarted off the GUI thread) or a remote OpenAI-compatible server.

Signals say what happened; nothing here blocks the GUI thread."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.operations import Tickets, run_in_background
from engine.llm.client import ChatClient
from engine.llm.host import EngineError, EngineHost, HostConfig

RESTARTS_PER_MINUTE = 3


@dataclass(frozen=True)
class EndpointPlan:
    """What to connect to: a local model (config) or a remote server (url, key, model)."""
    local: HostConfig | None = None
    remote_url: str = ""
    remote_key: str = ""
    remote_model: str = ""

    @property
    def label(self) -> str:
        if self.local:
            return Path(self.local.model_path).name
        return f"{self.remote_model or 'remote model'} at {self.remote_url}"


class EngineService(QObject):
    state_changed = Signal(str)          # 'idle' | 'loading' | 'ready' | 'failed'
    model_did_load = Signal(str)         # label
    model_failed = Signal(str)           # user-facing reason
    engine_died = Signal(str)            # what happened; a restart follows
    gpu_fell_back = Signal(str)          # the GPU could not be used; running on the CPU, and why
    _died_in_thread = Signal(str)

    def __init__(self, log_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._log_dir = log_dir
        self._host: EngineHost | None = None
        self._client: ChatClient | None = None
        self._plan: EndpointPlan | None = None
        self._tickets = Tickets()
        self._restarts: list[float] = []
        self.state = "idle"
        self.last_error = ""
        self._fallback_note = ""
        self._died_in_thread.connect(self._on_died)

    # -- public ----------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.state == "ready" and self._client is not None

    @property
    def client(self) -> ChatClient | None:
        return self._client if self.ready else None

    @property
    def plan(self) -> EndpointPlan | None:
        return self._plan

    @property
    def host(self) -> EngineHost | None:
        return self._host

    def load(self, plan: EndpointPlan) -> None:
        """Switch to `plan` in the background; stale loads are dropped if the user switches again."""
        self._plan = plan
        ticket = self._tickets.next()
        self._set_state("loading")
        old_host, old_client = self._host, self._client
        self._host, self._client = None, None

        def work():
            if old_client:
                old_client.close()
            if old_host:
                old_host.stop()
            if plan.local is not None:
                host, note = self._start_local(plan.local)
                if not self._tickets.is_current(ticket):  # the user switched again meanwhile
                    host.stop()
                    return None, None
                if note:
                    self._fallback_note = note
                return host, ChatClient(host.base_url, host.api_key, model=Path(plan.local.model_path).name)
            client = ChatClient(plan.remote_url, plan.remote_key, model=plan.remote_model or "default", timeout=600)
            names = client.list_models()
            if not plan.remote_model and names:
                client.model = names[0]
            return None, client

        run_in_background(work, on_success=self._loaded, on_failure=self._failed,
                          ticket=ticket, tickets=self._tickets)

    def _start_local(self, config: HostConfig) -> tuple[EngineHost, str]:
        """Start on the GPU when asked; if that fails, on the CPU, with a note saying why."""
        def make(cfg: HostConfig) -> EngineHost:
            return EngineHost(cfg, log_dir=self._log_dir, on_death=lambda report: self._died_in_thread.emit(report))

        host = make(config)
        try:
            host.start()
            return host, ""
        except EngineError as gpu_error:
            if config.n_gpu_layers == 0:
                raise
            from engine.llm.gpu import explain_gpu_failure

            why = explain_gpu_failure(gpu_error.log_tail) or gpu_error.message
            host = make(replace(config, n_gpu_layers=0))
            host.start()
            return host, why if "CPU" in why else f"{why} Running on the CPU instead."

    def restart(self) -> None:
        if self._plan is not None:
            self.load(self._plan)

    def shutdown(self) -> None:
        self._tickets.invalidate()
        if self._client:
            self._client.close()
        if self._host:
            self._host.stop()
        self._host, self._client = None, None
        self._set_state("idle")

    # -- internals -------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    def _loaded(self, result) -> None:
        if result == (None, None):
            return
        self._host, self._client = result
        self.last_error = ""
        self._set_state("ready")
        self.model_did_load.emit(self._plan.label if self._plan else "")
        if self._fallback_note:
            note, self._fallback_note = self._fallback_note, ""
            self.gpu_fell_back.emit(note)

    def _failed(self, exc: BaseException) -> None:
        message = exc.message if isinstance(exc, EngineError) else str(exc)
        self.last_error = message
        self._set_state("failed")
        self.model_failed.emit(message)

    def _on_died(self, report: str) -> None:
        """The host died on its own: tell the user and restart, unless it keeps dying."""
        self._client = None
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < 60] + [now]
        if len(self._restarts) > RESTARTS_PER_MINUTE:
            self.last_error = report + " It keeps failing, so Hearth stopped restarting it; pick another model or restart the engine."
            self._set_state("failed")
            self.model_failed.emit(self.last_error)
            return
        self.engine_died.emit(report + " Restarting it…")
        self.restart()


def default_threads() -> int:
    """Every core, at most 8: on 2 cores, 2 threads decode 2.4× faster than 1 (bench/decode.py)."""
    return max(1, min(8, os.cpu_count() or 2))
