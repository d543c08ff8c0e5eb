"""Small, pure answers the model library window needs: what to call a model in the picker,
and which downloads were left half-done by an earlier run (so they can be resumed).

The `.partial/*.part.json` sidecars are written by `engine.models.download`; this module only
reads them, and ignores anything it cannot make sense of.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.models.download import PARTIAL_DIR
from engine.models.gpu import GpuSupport
from engine.models.records import LibraryEntry, human_size

_SIDECAR_SUFFIX = ".part.json"


@dataclass(frozen=True)
class PendingDownload:
    """A download that stopped (paused, failed, app closed) with its bytes kept on disk."""

    repo_id: str
    filename: str
    done: int
    total: int

    @property
    def key(self) -> str:
        return download_key(self.repo_id, self.filename)


def download_key(repo_id: str, filename: str) -> str:
    """One name per download, used by the window's rows and their buttons."""
    return f"{repo_id}/{filename}" if filename else repo_id


def pending_downloads(models_dir: Path) -> list[PendingDownload]:
    """Partial downloads in `models_dir/.partial`, oldest first."""
    folder = Path(models_dir) / PARTIAL_DIR
    try:
        sidecars = sorted(folder.glob(f"*{_SIDECAR_SUFFIX}"), key=_mtime)
    except OSError:
        return []
    found: list[PendingDownload] = []
    for sidecar in sidecars:
        pending = _read(sidecar)
        if pending is not None:
            found.append(pending)
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read(sidecar: Path) -> PendingDownload | None:
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        repo_id, filename, total = data["repo_id"], data["filename"], data["size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(repo_id, str) and "/" in repo_id and isinstance(filename, str) and filename):
        return None
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        return None
    part = sidecar.with_name(sidecar.name[: -len(".json")])
    try:
        done = part.stat().st_size
    except OSError:
        done = 0
    return PendingDownload(repo_id, filename, min(done, total), total)


def picker_label(entry: LibraryEntry) -> str:
    """"SmolLM2-135M-Instruct.Q4_1 · 105.5 MB (bundled)": the name the user downloaded it by (or
    Ollama's tag). A GGUF's own `general.name` is often a training-run label ("Smollm2 135M 8k
    Lc100K Mix1 Ep2"), so it is only the fallback."""
    info = entry.info
    if info is None:
        return entry.display_name
    name = entry.display_name or info.name
    quant = info.quantization
    if quant and quant != "unknown" and quant.lower() not in name.lower():
        name = f"{name} {quant}"
    label = f"{name} · {human_size(info.file_size)}"
    if entry.source == "starter":
        label += " (bundled)"
    return label


def picker_entries(entries: Iterable[LibraryEntry]) -> list[tuple[str, str]]:
    """(label, path) for every usable model; labels made unique by the folder when two clash."""
    usable = [e for e in entries if e.usable]
    labels = [picker_label(e) for e in usable]
    result: list[tuple[str, str]] = []
    for entry, label in zip(usable, labels):
        if labels.count(label) > 1:
            label = f"{label} — {entry.path.parent.name or entry.source}"
        result.append((label, str(entry.path)))
    return result


def describe_gpu(support: GpuSupport) -> str:
    """One line about what llama.cpp will run models on here."""
    if support.error:
        return f"GPU unknown: {support.error}"
    if support.has_gpu:
        names = ", ".join(support.gpu_backends) or "GPU"
        devices = "; ".join(
            (d.description or d.name) + (f" ({human_size(d.memory_total)})" if d.memory_total else "")
            for d in support.gpu_devices
        )
        return f"llama.cpp backends: {names}" + (f" — {devices}" if devices else "") + "."
    backends = ", ".join(support.backends) or "CPU"
    return (f"No GPU backend in this build of llama.cpp (it has: {backends}); models run on the CPU, "
            "so the GPU layers setting has no effect.")
