"""Runs the local engine host (llama_cpp.server) as a child process and watches over it.

Why a child: a broken GGUF can crash llama.cpp natively; in a child that costs one error
message and a restart, never the window. See DESIGN.md, "One token's journey".
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import urllib.error
import urllib.request

from engine.llm.turns import EngineTurns


class EngineError(Exception):
    """A user-facing problem with the engine host; `log_tail` holds the host's own words."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.log_tail = log_tail


@dataclass(frozen=True)
class HostConfig:
    model_path: Path
    mmproj_path: Path | None = None
    chat_format: str | None = None
    n_ctx: int = 4096
    n_threads: int | None = None
    n_gpu_layers: int = 0
    n_batch: int = 512
    seed: int | None = None
    extra: dict = field(default_factory=dict)

    def model_settings(self) -> dict:
        settings: dict = {
            "model": str(self.model_path),
            "model_alias": Path(self.model_path).name,
            "n_ctx": self.n_ctx,
            "n_gpu_layers": self.n_gpu_layers,
            "n_batch": self.n_batch,
            "verbose": True,  # the log is how users learn why a model failed
            # llama_cpp.server defaults to logits for every prompt token (for logprobs, which
            # Hearth never asks for): a vocabulary-sized matmul and copy per prompt token, and an
            # n_ctx x n_vocab float array (1.6 GB at 8k context for a 49k vocabulary).
            "logits_all": False,
            "use_mlock": False,  # llama.cpp's own default; pinning a large model can fail or starve the system
        }
        if self.n_threads:
            settings["n_threads"] = self.n_threads
            settings["n_threads_batch"] = self.n_threads
        if self.seed is not None:
            settings["seed"] = self.seed
        if self.mmproj_path:
            settings["clip_model_path"] = str(self.mmproj_path)
            settings["chat_format"] = self.chat_format or "mtmd"
        elif self.chat_format:
            settings["chat_format"] = self.chat_format
        settings.update(self.extra)
        return settings


def engine_command() -> list[str]:
    """How to start the host: this Python, or the frozen app re-invoked in engine mode."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--engine-host"]
    return [sys.executable, "-m", "engine.llm.host_main"]


class EngineHost:
    """One llama_cpp.server child on 127.0.0.1, a random port and a random API key."""

    def __init__(self, config: HostConfig, *, log_dir: Path | None = None,
                 on_death: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.api_key = secrets.token_urlsafe(32)
        self.port: int | None = None
        self._log_dir = Path(log_dir) if log_dir else Path(tempfile.gettempdir())
        self._log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self._log_dir / "engine-host.log"
        self._process: subprocess.Popen | None = None
        self._on_death = on_death
        self._stopping = False
        self._death_report: str | None = None
        self._lock = threading.RLock()
        self.turns = EngineTurns()  # the window's answers before outside apps' (engine/llm/turns.py)

    # -- lifecycle -------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise EngineError("The engine is not running.")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def death_report(self) -> str | None:
        return self._death_report

    def start(self, timeout: float = 120.0) -> None:
        """Start the child and wait until it answers; raise EngineError saying why not."""
        with self._lock:
            if self.is_alive():
                return
            self._stopping = False
            self._death_report = None
            model = Path(self.config.model_path)
            if not model.is_file():
                raise EngineError(f"The model file {model} does not exist.")
            workdir = Path(tempfile.mkdtemp(prefix="hearth-engine-"))
            ready_file = workdir / "port"
            config_file = workdir / "config.json"
            fd = os.open(config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"api_key": self.api_key, "ready_file": str(ready_file),
                           "model": self.config.model_settings()}, f)
            env = dict(os.environ, HEARTH_ENGINE_CONFIG=str(config_file), PYTHONUNBUFFERED="1")
            if self.log_path.exists():  # keep the previous run's log: it says why that run died
                os.replace(self.log_path, self.log_path.with_suffix(".previous.log"))
            log = open(self.log_path, "wb")
            root = Path(__file__).resolve().parents[2]
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
            self._process = subprocess.Popen(
                engine_command(), stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=str(workdir),
            )
            log.close()
            process = self._process
        deadline = time.monotonic() + timeout
        try:
            while True:
                if process.poll() is not None:
                    raise EngineError(self._explain_exit(process.returncode), self.log_tail())
                if ready_file.exists():
                    self.port = int(ready_file.read_text())
                    break
                if time.monotonic() > deadline:
                    self.stop()
                    raise EngineError(f"The engine did not start within {timeout:.0f} s.", self.log_tail())
                time.sleep(0.02)
            self._wait_http(deadline)
        finally:
            for f in (ready_file, config_file):
                f.unlink(missing_ok=True)
            try:
                workdir.rmdir()
            except OSError:
                pass
        threading.Thread(target=self._watch, args=(process,), name="engine-watch", daemon=True).start()
        if self.config.mmproj_path:
            self._check_projector(deadline)

    def _check_projector(self, deadline: float) -> None:
        """llama-cpp-python loads the projector lazily: send one tiny image now, so a projector that
        does not fit its model fails at start with the real reason, not at the user's first photo."""
        import io

        from PIL import Image

        from engine.vision.data_uri import data_uri

        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), (128, 128, 128)).save(buffer, "PNG")
        uri = data_uri("image/png", buffer.getvalue())
        body = json.dumps({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": uri}}]}],
            "max_tokens": 1}).encode()
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, headers={
            "Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=max(5.0, deadline - time.monotonic())):
                return
        except (urllib.error.URLError, OSError) as exc:
            tail = self.log_tail(80)
            self.stop()
            reason = _reason_from_log(tail) or "The vision projector (mmproj) could not be loaded."
            raise EngineError(f"{reason} ({Path(self.config.mmproj_path).name})", tail) from exc

    def _wait_http(self, deadline: float) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(f"{self.base_url}/models", headers=headers)
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if not self.is_alive():
                raise EngineError(self._explain_exit(self._process.returncode), self.log_tail())
            time.sleep(0.05)
        raise EngineError("The engine started but does not answer.", self.log_tail())

    def _watch(self, process: subprocess.Popen) -> None:
        code = process.wait()
        with self._lock:
            if self._stopping or process is not self._process:
                return
            self._death_report = self._explain_exit(code)
            self.port = None
        if self._on_death:
            self._on_death(self._death_report)

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopping = True
            process = self._process
            self.port = None
        if process is None or process.poll() is not None:
            return
        try:
            process.stdin.close()  # the host exits on EOF
        except OSError:
            pass
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, config: HostConfig | None = None, timeout: float = 120.0) -> None:
        self.stop()
        if config is not None:
            self.config = config
        self.start(timeout)

    # -- diagnostics -----------------------------------------------------------
    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _explain_exit(self, code: int | None) -> str:
        tail = self.log_tail(80)
        reason = _reason_from_log(tail)
        if code is not None and code < 0:
            import signal as _signal

            try:
                name = _signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            how = f"was stopped by {name}"
        else:
            how = f"exited with code {code}"
        return f"The engine {how}." + (f" {reason}" if reason else "")


_LOG_HINTS = (
    ("mismatch between text model", "The vision projector (mmproj) does not belong to this model."),
    ("failed to load model", "The model file could not be loaded: it may be damaged or of an unsupported kind."),
    ("unknown model architecture", "This model's architecture is not supported by this version of llama.cpp."),
    ("invalid magic", "The file is not a GGUF model."),
    ("out of memory", "There was not enough memory for this model; try a smaller model or context."),
    ("cudamalloc failed", "There was not enough GPU memory; try fewer GPU layers."),
    ("failed to load mtmd context", "The vision projector (mmproj) could not be loaded."),
    ("clip_init", "The vision projector (mmproj) could not be loaded."),
)


def _reason_from_log(text: str) -> str:
    lower = text.lower()
    for needle, reason in _LOG_HINTS:
        if needle in lower:
            return reason
    return ""
