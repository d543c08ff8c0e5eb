"""Plain records of knowledge collections, safe for ui/ to import (no engine calls)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Collection:
    id: int
    name: str
    embedder: str      # the embedding model its vectors came from
    dimension: int
    roots: tuple[str, ...]
    files: int         # files indexed
    failed: int        # files recorded with a reason instead
    chunks: int


@dataclass(frozen=True)
class Source:
    """One file of a collection: indexed, or failed with the reason."""
    path: str
    state: str         # 'indexed' or 'failed'
    reason: str | None
    kind: str | None
    size: int
    chunks: int


@dataclass(frozen=True)
class IndexProgress:
    """Where an indexing run stands; yielded after each file (and once at the start)."""
    done: int          # files looked at so far
    total: int         # files found under the collection's roots
    chunks: int        # chunks embedded in this run so far
    path: str | None   # the file just handled
    outcome: str       # 'started', 'indexed', 'unchanged', 'failed', 'removed', 'finished'
    reason: str | None = None


@dataclass(frozen=True)
class Hit:
    """A retrieved passage: where it is (file, page or heading, character span) and how well it ranked."""
    path: str
    score: float       # fused reciprocal-rank score; higher is better
    passage: str
    location: str      # 'page 3', 'Install > Linux', 'lines 10-42', or ''
    start: int         # character span in the file's extracted text
    end: int
    chunk_id: int
    source_id: int     # the file's row: its whole text, when it fits the prompt
