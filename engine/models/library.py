"""Every chat model on this computer that Hearth can use, wherever another app put it.

Files are used in place and never copied. Each is inspected once per (path, size, mtime) so a
rescan costs a directory walk. A file that fails inspection is still listed, with the reason,
so the user sees why a model they know they have cannot be used.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.models.gguf_info import InvalidModelError, inspect_gguf, is_secondary_split
from engine.models.locations import huggingface_cache_dir, other_app_folders
from engine.models.records import LibraryEntry, ModelInfo, Source
from engine.models.starter import starter_llm_path

OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_PROJECTOR_LAYER = "application/vnd.ollama.image.projector"
MAX_MANIFEST_BYTES = 1 << 20
_ENV_ABOUT_THE_REAL_HOME = ("XDG_DATA_HOME", "XDG_CACHE_HOME", "LOCALAPPDATA")


@dataclass(frozen=True)
class _Candidate:
    source: Source
    display_name: str | None  # None: derived from the file name
    path: Path
    projector: Path | None = None


_CacheKey = tuple[str, int, int, int, str]


class ModelLibrary:
    """Finds GGUF chat models: starter, Hearth's folder, HF cache, LM Studio, GPT4All, Ollama, user files."""

    def __init__(
        self,
        models_dir: Path,
        home: Path | None = None,
        extra_files: Iterable[Path] = (),
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.models_dir = Path(models_dir)
        self.home = Path(home) if home is not None else Path.home()
        self.extra_files: list[Path] = [Path(p) for p in extra_files]
        if env is None:
            env = dict(os.environ)
            if home is not None:  # a stand-in home: the real one's XDG folders do not apply
                env = {k: v for k, v in env.items() if k not in _ENV_ABOUT_THE_REAL_HOME}
        self._env = env
        self._include_system = home is None
        self._cache: dict[_CacheKey, ModelInfo | str] = {}
        self._lock = threading.Lock()

    # -- public -----------------------------------------------------------------------------

    def scan(self) -> list[LibraryEntry]:
        entries: list[LibraryEntry] = []
        seen: set[Path] = set()
        for candidate in self._candidates():
            key = _resolved(candidate.path)
            if key in seen:
                continue
            seen.add(key)
            entry = self._entry(candidate)
            if entry.info is not None and entry.info.is_projector:
                continue  # a vision projector attaches to its model; it is not a chat model
            entries.append(entry)
        return entries

    def add_user_file(self, path: Path) -> LibraryEntry:
        """Validate a file the user picked or dropped; raises InvalidModelError saying why it is refused."""
        path = Path(path).expanduser()
        info = self._inspect(path, None)
        if isinstance(info, str):
            raise InvalidModelError(info)
        if info.is_projector:
            raise InvalidModelError(
                "This is a vision projector (mmproj), not a chat model. Pick the model file next to it; "
                "Hearth attaches the projector by itself."
            )
        if all(_resolved(p) != _resolved(path) for p in self.extra_files):
            self.extra_files.append(path)
        return LibraryEntry("user", _file_display_name(path), path, info, None)

    # -- discovery --------------------------------------------------------------------------

    def _candidates(self) -> Iterator[_Candidate]:
        starter = starter_llm_path()
        if starter is not None:
            yield _Candidate("starter", None, starter)
        yield from (_Candidate("hearth", None, p) for p in _gguf_files(self.models_dir))
        yield from self._huggingface()
        folders = other_app_folders(self.home, env=self._env, include_system=self._include_system)
        for folder in folders.lmstudio:
            yield from (_Candidate("lmstudio", None, p) for p in _gguf_files(folder))
        for folder in folders.gpt4all:
            yield from (_Candidate("gpt4all", None, p) for p in _gguf_files(folder))
        for folder in folders.ollama:
            yield from _ollama_models(folder)
        yield from (_Candidate("user", None, p) for p in self.extra_files)

    def _huggingface(self) -> Iterator[_Candidate]:
        cache_dir = huggingface_cache_dir(self.home, self._env)
        if not cache_dir.is_dir():
            return
        from huggingface_hub import scan_cache_dir
        from huggingface_hub.errors import CacheNotFound

        try:
            cache = scan_cache_dir(cache_dir)
        except (CacheNotFound, OSError):
            return
        for repo in sorted(cache.repos, key=lambda r: r.repo_id.lower()):
            if repo.repo_type != "model":
                continue
            revisions = sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True)
            for revision in revisions:
                for file in sorted(revision.files, key=lambda f: f.file_name):
                    if file.file_name.lower().endswith(".gguf") and not is_secondary_split(file.file_path):
                        yield _Candidate("huggingface", None, file.file_path)

    # -- inspection -------------------------------------------------------------------------

    def _entry(self, candidate: _Candidate) -> LibraryEntry:
        result = self._inspect(candidate.path, candidate.projector)
        name = candidate.display_name or _file_display_name(candidate.path)
        if isinstance(result, str):
            return LibraryEntry(candidate.source, name, candidate.path, None, result)
        return LibraryEntry(candidate.source, name, candidate.path, result, None)

    def _inspect(self, path: Path, projector: Path | None) -> ModelInfo | str:
        try:
            stat = path.stat()
            folder_mtime = path.parent.stat().st_mtime_ns  # a projector added beside it changes this
        except OSError:
            stat = None
        if stat is None:
            return _reason(path)
        key: _CacheKey = (str(path), stat.st_size, stat.st_mtime_ns, folder_mtime, str(projector))
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        try:
            result: ModelInfo | str = inspect_gguf(path, projector=projector)
        except InvalidModelError as exc:
            result = str(exc)
        with self._lock:
            self._cache[key] = result
        return result


def _reason(path: Path) -> str:
    try:
        inspect_gguf(path)
    except InvalidModelError as exc:
        return str(exc)
    return "The file could not be read."


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _file_display_name(path: Path) -> str:
    name = path.name
    return name[: -len(".gguf")] if name.lower().endswith(".gguf") else name


def _gguf_files(folder: Path) -> list[Path]:
    """GGUF files under a folder, sorted, skipping hidden folders and split parts 2…n."""
    if not folder.is_dir():
        return []
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, onerror=lambda _e: None):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(root) / name
            if name.lower().endswith(".gguf") and not name.startswith(".") and not is_secondary_split(path):
                found.append(path)
    return sorted(found)


def _ollama_models(models: Path) -> Iterator[_Candidate]:
    """Ollama's manifests (`manifests/<registry>/<namespace>/<model>/<tag>`) name GGUF blobs."""
    manifests = models / "manifests"
    if not manifests.is_dir():
        return
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        parts = manifest.relative_to(manifests).parts
        if len(parts) != 4:
            continue
        registry, namespace, model, tag = parts
        layers = _manifest_layers(manifest)
        if layers is None:
            continue
        model_digest = layers.get(OLLAMA_MODEL_LAYER)
        if not model_digest:
            continue
        projector_digest = layers.get(OLLAMA_PROJECTOR_LAYER)
        blob = _ollama_blob(models, model_digest)
        projector = _ollama_blob(models, projector_digest) if projector_digest else None
        if projector is not None and not projector.is_file():
            projector = None
        if blob is None:
            continue
        prefix = "" if registry == "registry.ollama.ai" else f"{registry}/"
        prefix += "" if namespace == "library" and not prefix else f"{namespace}/"
        yield _Candidate("ollama", f"{prefix}{model}:{tag}", blob, projector)


def _manifest_layers(manifest: Path) -> dict[str, str] | None:
    try:
        if manifest.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        return None
    layers: dict[str, str] = {}
    for layer in data["layers"]:
        if isinstance(layer, dict) and isinstance(layer.get("mediaType"), str) and isinstance(layer.get("digest"), str):
            layers.setdefault(layer["mediaType"], layer["digest"])
    return layers


def _ollama_blob(models: Path, digest: str) -> Path | None:
    algorithm, _, hex_digest = digest.partition(":")
    if algorithm != "sha256" or not hex_digest or not all(c in "0123456789abcdef" for c in hex_digest):
        return None
    return models / "blobs" / f"sha256-{hex_digest}"
