"""Shared bits for the bench scripts (run from the repository root with .venv/bin/python)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def raw_llama(config):
    """`llama_cpp.Llama` in this process with the settings Hearth's host gives llama.cpp for
    `config` (threads, context, batch, logits), so a side-by-side compares like with like."""
    import llama_cpp

    settings = config.model_settings()
    same = ("n_ctx", "n_gpu_layers", "n_batch", "logits_all", "use_mlock", "n_threads", "n_threads_batch")
    return llama_cpp.Llama(settings["model"], verbose=False, **{k: settings[k] for k in same if k in settings})


def server_sampling() -> dict:
    """The sampling llama_cpp.server applies to a request that names only temperature, top-p,
    max tokens and seed (as Hearth's do): its own defaults, which differ from
    `Llama.create_chat_completion`'s (repeat penalty 1.1 against 1.0). Without them the raw side
    samples more cheaply (~0.2 ms a token here) and writes a different text."""
    from llama_cpp.server.types import CreateChatCompletionRequest

    fields = CreateChatCompletionRequest.model_fields
    names = ("top_k", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty",
             "mirostat_mode", "mirostat_tau", "mirostat_eta")
    return {name: fields[name].default for name in names}
