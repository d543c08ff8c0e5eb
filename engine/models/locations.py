"""Where other apps keep their GGUF models on each OS, so Hearth can use them in place.

`home` stands for the user's home folder; tests pass a temporary one. System-wide folders
(the Linux Ollama service) are only included when asked, so a test never sees the machine's.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OtherAppFolders:
    lmstudio: tuple[Path, ...]
    gpt4all: tuple[Path, ...]
    ollama: tuple[Path, ...]


def other_app_folders(
    home: Path,
    *,
    platform: str = sys.platform,
    env: Mapping[str, str] | None = None,
    include_system: bool = False,
) -> OtherAppFolders:
    env = os.environ if env is None else env
    lmstudio = (home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models")

    if platform == "darwin":
        gpt4all: tuple[Path, ...] = (home / "Library" / "Application Support" / "nomic.ai" / "GPT4All",)
    elif platform == "win32":
        local = Path(env["LOCALAPPDATA"]) if env.get("LOCALAPPDATA") else home / "AppData" / "Local"
        gpt4all = (local / "nomic.ai" / "GPT4All",)
    else:
        data = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else home / ".local" / "share"
        gpt4all = (data / "nomic.ai" / "GPT4All",)

    ollama: list[Path] = []
    if env.get("OLLAMA_MODELS"):
        ollama.append(Path(env["OLLAMA_MODELS"]))
    ollama.append(home / ".ollama" / "models")
    if include_system and platform.startswith("linux"):
        ollama.append(Path("/usr/share/ollama/.ollama/models"))
    return OtherAppFolders(lmstudio=lmstudio, gpt4all=gpt4all, ollama=tuple(ollama))


def huggingface_cache_dir(home: Path, env: Mapping[str, str] | None = None) -> Path:
    """The hub cache, resolved now (huggingface_hub's own constant is fixed at import time)."""
    env = os.environ if env is None else env
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(key):
            return Path(env[key]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "huggingface" / "hub"
    return home / ".cache" / "huggingface" / "hub"
