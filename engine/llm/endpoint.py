"""From "this model file" or "that server" to a chat endpoint that answers: the one step the
window, `hearth ask` and a future `hearth serve` share.

A model file becomes a host configuration here (its vision projector and chat handler, GPU
layers from llama.cpp's own capability query), and a local start that fails on the GPU is
retried on the CPU with a note saying why.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from engine.llm.client import ChatClient
from engine.llm.host import EngineError, EngineHost, HostConfig
from engine.llm.template_thought import TemplateThought, template_thought

REMOTE_CONTEXT = 32768  # a remote server's window when it does not say (it trims for itself)


class ModelNotUsable(ValueError):
    """The file cannot be used as asked (not a GGUF, no projector for images…); str() says why."""


@dataclass(frozen=True)
class EndpointPlan:
    """What to connect to: a local model (config) or a remote server (url, key, model)."""
    local: HostConfig | None = None
    remote_url: str = ""
    remote_key: str = ""
    remote_model: str = ""
    thought: TemplateThought = TemplateThought()   # known for a local model's template only

    @property
    def thinks_in_tags(self) -> bool:
        return self.thought.in_tags

    @property
    def label(self) -> str:
        if self.local:
            return Path(self.local.model_path).name
        return f"{self.remote_model or 'remote model'} at {self.remote_url}"

    @property
    def n_ctx(self) -> int:
        return self.local.n_ctx if self.local else REMOTE_CONTEXT

    @property
    def sees_images(self) -> bool:
        """A local model sees with its projector; a remote server decides for itself."""
        return self.local is None or self.local.mmproj_path is not None


def default_threads() -> int:
    """Every core, at most 8: on 2 cores, 2 threads decode 2.4× faster than 1 (bench/decode.py)."""
    return max(1, min(8, os.cpu_count() or 2))


def gpu_layers(requested: int) -> int:
    """-1 means every layer when llama.cpp has a GPU backend, and the CPU otherwise."""
    if requested != -1:
        return requested
    try:
        from engine.models.gpu import default_gpu_layers, gpu_backends

        return default_gpu_layers(gpu_backends())
    except Exception:  # noqa: BLE001 - detection must never stop the app
        return 0


def local_plan(model: Path, *, n_ctx: int, n_threads: int | None = None, n_gpu_layers: int = -1,
               mmproj: Path | None = None, seed: int | None = None, wants_images: bool = False) -> EndpointPlan:
    """The host configuration for a model file: its projector (given, or found beside it) and
    the chat handler for its family. A file that is not a GGUF is refused here, before any
    engine sees it; one the inspector cannot fully read still gets its chance in the host."""
    model = Path(model)
    if not model.is_file():
        raise ModelNotUsable(f"model file not found: {model}")
    chat_format = None
    try:
        from engine.models.gguf_info import InvalidModelError, inspect_gguf
    except ImportError:  # a build without the inspector: the host decides
        info = None
    else:
        try:
            info = inspect_gguf(model)
        except InvalidModelError as exc:
            raise ModelNotUsable(f"{model.name} is not a usable model: {exc}") from None
        except Exception:  # noqa: BLE001 - the host has the last word
            info = None
    projector = mmproj or (Path(info.mmproj_path) if info is not None and info.mmproj_path else None)
    if wants_images and projector is None:
        raise ModelNotUsable(f"{model.name} cannot see images (no vision projector); "
                             "use a vision model such as Qwen2.5-VL or Gemma 3 with its mmproj file")
    if projector is not None:
        try:
            from engine.llm.vision_format import chat_format_for

            chat_format = chat_format_for(info, projector) if info is not None else "mtmd"
        except Exception:  # noqa: BLE001 - libmtmd's generic handler is the fallback
            chat_format = "mtmd"
    config = HostConfig(model_path=model, mmproj_path=projector, chat_format=chat_format, n_ctx=n_ctx,
                        n_threads=n_threads or default_threads(), n_gpu_layers=gpu_layers(n_gpu_layers), seed=seed)
    return EndpointPlan(local=config, thought=template_thought(info.chat_template if info is not None else None))


@dataclass
class Endpoint:
    """A connected endpoint: the client to stream from, and the local host behind it, if any."""
    plan: EndpointPlan
    client: ChatClient
    host: EngineHost | None = None
    gpu_note: str = ""            # why the GPU was not used, when it was asked for and failed
    models: tuple[str, ...] = ()  # what a remote server offers

    @property
    def label(self) -> str:
        if self.plan.local is None:
            return f"{self.client.model} at {self.plan.remote_url}"
        return self.plan.label

    @property
    def counts_exactly(self) -> bool:
        """Hearth's own host counts tokens with the model's tokenizer; other servers may not."""
        return self.host is not None

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.host is not None:
                self.host.stop()


def open_endpoint(plan: EndpointPlan, *, log_dir: Path | None = None,
                  on_death: Callable[[str], None] | None = None) -> Endpoint:
    """Start the local host (GPU, then CPU) or reach the remote server. Blocking: call it off
    the GUI thread. Raises EngineError or ChatError with a message fit for the user."""
    if plan.local is not None:
        host, note = start_local(plan.local, log_dir=log_dir, on_death=on_death)
        try:
            client = ChatClient(host.base_url, host.api_key, model=Path(plan.local.model_path).name,
                                turns=host.turns)
        except BaseException:
            host.stop()
            raise
        return Endpoint(plan, client, host, note)
    client = ChatClient(plan.remote_url, plan.remote_key, model=plan.remote_model or "default", timeout=600)
    try:
        names = tuple(client.list_models())
    except BaseException:
        client.close()
        raise
    if names and (not plan.remote_model or plan.remote_model == "default"):
        client.model = names[0]
    return Endpoint(plan, client, None, "", names)


def start_local(config: HostConfig, *, log_dir: Path | None = None,
                on_death: Callable[[str], None] | None = None) -> tuple[EngineHost, str]:
    """Start on the GPU when asked; if that fails, on the CPU, with a note saying why."""
    host = EngineHost(config, log_dir=log_dir, on_death=on_death)
    try:
        host.start()
        return host, ""
    except EngineError as gpu_error:
        if config.n_gpu_layers == 0:
            raise
        from engine.models.gpu import explain_gpu_failure

        why = explain_gpu_failure(gpu_error.log_tail) or gpu_error.message
        host = EngineHost(replace(config, n_gpu_layers=0), log_dir=log_dir, on_death=on_death)
        host.start()
        return host, why if "CPU" in why else f"{why} Running on the CPU instead."
