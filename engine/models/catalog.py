"""Hand-picked models to download, and whether each will run on this computer.

The entries live in catalog.json (data, editable without touching code).
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from engine.models.hardware import Hardware
from engine.models.records import CatalogEntry, Fit

OVERHEAD = 1.2  # weights plus the compute buffers llama.cpp allocates beside them
DEFAULT_CONTEXT_TOKENS = 4096
COMFORT = 0.8  # "fits" leaves a fifth of the memory to the rest of the computer


class CatalogError(Exception):
    """catalog.json is missing or malformed (a packaging mistake, not a user one)."""


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    try:
        if path is None:
            text = resources.files("engine.models").joinpath("catalog.json").read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        return [_entry(item) for item in data["models"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CatalogError(f"The model catalog could not be read: {exc}") from exc


def _entry(item: dict[str, Any]) -> CatalogEntry:
    entry = CatalogEntry(
        id=str(item["id"]),
        kind=item["kind"],
        name=str(item["name"]),
        repo_id=str(item["repo_id"]),
        file=item.get("file"),
        size_bytes=int(item["size_bytes"]),
        mmproj_file=item.get("mmproj_file"),
        mmproj_size_bytes=int(item.get("mmproj_size_bytes") or 0),
        parameter_count=int(item["parameter_count"]),
        context_length=item.get("context_length"),
        kv_bytes_per_token=item.get("kv_bytes_per_token"),
        capabilities=tuple(item.get("capabilities", ())),
        summary=str(item.get("summary", "")),
    )
    if entry.kind not in ("chat", "speech") or (entry.kind == "chat" and not entry.file):
        raise ValueError(f"entry {entry.id!r} is malformed")
    return entry


def memory_needed(entry: CatalogEntry, context_tokens: int = DEFAULT_CONTEXT_TOKENS) -> int:
    """Bytes to run it: files × 1.2, plus the KV cache for the context Hearth will ask for."""
    needed = entry.total_size * OVERHEAD
    if entry.kind == "chat":
        tokens = min(context_tokens, entry.context_length or context_tokens)
        per_token = entry.kv_bytes_per_token or _guess_kv_bytes_per_token(entry.parameter_count)
        needed += tokens * per_token
    return int(needed)


def _guess_kv_bytes_per_token(parameter_count: int) -> int:
    """About 128 KiB per token for a 7B model without grouped-query attention, scaled; at least 16 KiB."""
    return max(16 << 10, int(parameter_count / 7e9 * (128 << 10)))


def fit(entry: CatalogEntry, hardware: Hardware, context_tokens: int = DEFAULT_CONTEXT_TOKENS) -> Fit:
    """fits: needs ≤ 80 % of the memory it will use; tight: ≤ 100 %; else won't fit.

    The memory is the GPU's (free, else total) when llama.cpp has a GPU backend and its size is
    known, otherwise available RAM (else total RAM). A chat model too big for the GPU but small
    enough for GPU + RAM together is 'tight': llama.cpp runs the rest of its layers on the CPU.
    Speech models are judged against RAM.
    """
    needed = memory_needed(entry, context_tokens)
    ram = hardware.ram_available or hardware.ram_total
    vram = hardware.vram_free or hardware.vram_total
    on_gpu = entry.kind == "chat" and hardware.gpu_backend is not None and vram is not None
    budget = vram if on_gpu else ram
    if budget is None:
        return "tight"  # nothing known: do not promise, do not forbid
    if needed <= budget * COMFORT:
        return "fits"
    if needed <= budget:
        return "tight"
    if on_gpu and ram is not None and needed <= budget + ram:
        return "tight"
    return "won't fit"
