"""Indexing a collection: a generator that reports after every file, resumable and incremental.

Each file is read once (its sha256 and its text come from the same bytes), chunked, embedded
and committed in one transaction, so a kill mid-run loses at most the file in hand and the
next run starts there. A file whose size and mtime are unchanged is skipped without reading;
one whose bytes are unchanged only has its stat refreshed; one that vanished leaves the index.
Unreadable, empty-of-text or huge files are recorded with their reason, never fatal. Embedding
runs outside any transaction, so a search in another thread never waits for the model.
Progress is in files settled: a small file's line comes when its batch is embedded and saved.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.cancel import Cancel

from .chunking import Chunk, chunk_document
from .documents import find_files, read_document
from .embedder import Embedder
from .extract import ExtractionError, human_size
from .index_store import KnowledgeStore
from .records import IndexProgress

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TEXT_CHARS = 4_000_000   # ~5,000 chunks, minutes of embedding on a laptop
EMBED_SLICE = 64             # chunks embedded at once, between looks at `cancel`
PENDING_CHUNKS = 256         # small files wait until this many chunks are ready, then embed together


@dataclass
class _Prepared:
    """A file read, extracted and chunked, waiting for its vectors."""
    path: str
    size: int
    mtime_ns: int
    sha256: str
    kind: str
    chars: int
    chunks: list[Chunk]
    contexts: list[str]


def index_collection(knowledge: KnowledgeStore, name: str, embedder: Embedder, *,
                     cancel: Cancel | None = None) -> Iterator[IndexProgress]:
    """Bring collection `name` up to date with its files; yields progress, raises Cancelled.

    Small files are embedded together (batches of one file's two chunks waste most of the
    runtime's time), then each is committed on its own."""
    collection_id = knowledge.require(name)
    if knowledge.embedder_of(collection_id) != (embedder.name, embedder.dimension):
        knowledge.switch_embedder(collection_id, embedder.name, embedder.dimension)
    files = find_files(knowledge.roots(collection_id))
    known = knowledge.known_sources(collection_id)
    knowledge.remove_sources(collection_id, sorted(set(known) - set(files)))
    total, done, chunks = len(files), 0, 0
    pending: list[_Prepared] = []
    yield IndexProgress(0, total, 0, None, "started")

    def flush() -> Iterator[IndexProgress]:
        nonlocal done, chunks
        texts = [f"{context}\n{chunk.text}" for file in pending for context, chunk in zip(file.contexts, file.chunks)]
        vectors = _embed(embedder, texts, cancel)
        first = 0
        for file in pending:
            if cancel is not None:
                cancel.raise_if_cancelled()
            knowledge.save_indexed(collection_id, file.path, size=file.size, mtime_ns=file.mtime_ns,
                                   sha256=file.sha256, kind=file.kind, chars=file.chars, chunks=file.chunks,
                                   contexts=file.contexts, vectors=vectors[first:first + len(file.chunks)])
            first += len(file.chunks)
            done, chunks = done + 1, chunks + len(file.chunks)
            yield IndexProgress(done, total, chunks, file.path, "indexed")
        pending.clear()

    for path in files:
        if cancel is not None:
            cancel.raise_if_cancelled()
        outcome = _prepare(knowledge, collection_id, path, known.get(path))
        if isinstance(outcome, _Prepared):
            pending.append(outcome)
            if sum(len(file.chunks) for file in pending) >= PENDING_CHUNKS:
                yield from flush()
        else:
            done += 1
            yield IndexProgress(done, total, chunks, path, outcome[0], outcome[1])
    yield from flush()
    yield IndexProgress(total, total, chunks, None, "finished")


def _embed(embedder: Embedder, texts: list[str], cancel: Cancel | None) -> np.ndarray:
    """Vectors of `texts`, embedded shortest first in slices (a slice pads to its longest text)."""
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for first in range(0, len(order), EMBED_SLICE):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rows = order[first:first + EMBED_SLICE]
        vectors[rows] = embedder.embed([texts[i] for i in rows])
    return vectors


def _prepare(knowledge: KnowledgeStore, collection_id: int, path: str, known) -> _Prepared | tuple[str, str | None]:
    """A file ready to embed, or (outcome, reason) for one settled here: unchanged or failed."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        return "failed", exc.strerror or type(exc).__name__   # vanished while we looked: next run drops it
    size, mtime_ns = stat.st_size, stat.st_mtime_ns
    if known is not None and known.size == size and known.mtime_ns == mtime_ns:
        return "unchanged", None

    def failed(reason: str, sha256: str | None = None) -> tuple[str, str]:
        knowledge.save_failed(collection_id, path, size=size, mtime_ns=mtime_ns, sha256=sha256, reason=reason)
        return "failed", reason

    if size > MAX_FILE_BYTES:
        return failed(f"the file is {human_size(size)}; the limit is {human_size(MAX_FILE_BYTES)}")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return failed(exc.strerror or type(exc).__name__)
    sha256 = hashlib.sha256(data).hexdigest()
    if known is not None and known.sha256 == sha256 and known.state == "indexed":
        knowledge.touch_source(known.id, size, mtime_ns)
        return "unchanged", None
    try:
        document = read_document(path, data)
    except ExtractionError as exc:
        return failed(exc.reason, sha256)
    if len(document.text) > MAX_TEXT_CHARS:
        return failed(f"its text is {len(document.text):,} characters; the limit is {MAX_TEXT_CHARS:,}", sha256)
    chunks = chunk_document(document.text, document.kind, document.pages)
    title = Path(path).name
    contexts = [f"{title}: {chunk.heading}" if chunk.heading else title for chunk in chunks]
    return _Prepared(path, size, mtime_ns, sha256, document.kind, len(document.text), chunks, contexts)
