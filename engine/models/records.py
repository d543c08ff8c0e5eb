"""Plain data about models that the library, the catalog and the hub hand out.

The UI may import these types (they hold no file, no connection and no Qt, and this module
imports nothing beyond the standard library); only app/ calls the code that makes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

Source = Literal["starter", "hearth", "huggingface", "lmstudio", "gpt4all", "ollama", "user"]
Fit = Literal["fits", "tight", "won't fit"]


@dataclass(frozen=True)
class ModelInfo:
    """What a GGUF file's header says (engine.models.gguf_info reads it)."""

    path: Path
    name: str
    architecture: str
    parameter_count: int
    quantization: str
    file_size: int
    context_length: int | None
    chat_template: str | None
    has_vision: bool
    mmproj_path: Path | None
    supports_tools: bool
    supports_reasoning: bool
    is_projector: bool
    embedding_length: int | None = None
    projection_dim: int | None = None


@dataclass(frozen=True)
class LibraryEntry:
    """One chat model on this computer; `error` says why it cannot be used when `info` is None."""

    source: Source
    display_name: str
    path: Path
    info: ModelInfo | None
    error: str | None

    @property
    def usable(self) -> bool:
        return self.info is not None and self.error is None


@dataclass(frozen=True)
class CatalogEntry:
    """A hand-picked model to download (engine.models.catalog reads them from catalog.json)."""

    id: str
    kind: Literal["chat", "speech"]
    name: str
    repo_id: str
    file: str | None  # None for speech models: the whole repository is the model
    size_bytes: int
    mmproj_file: str | None
    mmproj_size_bytes: int
    parameter_count: int
    context_length: int | None
    kv_bytes_per_token: int | None
    capabilities: tuple[str, ...]
    summary: str

    @property
    def total_size(self) -> int:
        return self.size_bytes + self.mmproj_size_bytes

    @property
    def has_vision(self) -> bool:
        return self.mmproj_file is not None


@dataclass(frozen=True)
class RepoSummary:
    """One Hugging Face search result."""

    repo_id: str
    downloads: int
    likes: int
    last_modified: datetime | None
    gated: bool


@dataclass(frozen=True)
class RepoFile:
    """One file in a Hugging Face repository."""

    name: str
    size: int | None
    sha256: str | None  # from the LFS pointer: the only trustworthy checksum the hub gives

    @property
    def is_mmproj(self) -> bool:
        return "mmproj" in Path(self.name).name.lower()


def human_size(n: float) -> str:
    """1.1 GB, 98.4 MB: decimal units, as disks and Hugging Face count.

    Here rather than beside the code that measures sizes so that a size reads the same in the
    model window, the command line and the downloader's messages.
    """
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
