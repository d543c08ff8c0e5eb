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
