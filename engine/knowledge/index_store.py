"""The knowledge tables' SQL (migration m008), on the chat history's own SQLite connection.

It borrows the Store's connection, lock and error translation (`_transaction`, `_reading`)
rather than opening a second writer: one WAL database, one write lock, and the same "disk is
full / file is damaged" messages. Every file's chunks, vectors and state commit together, so an
index killed mid-way holds whole files only and resumes at the first file not committed.

Vectors are float32 BLOBs scored with numpy; a collection's matrix is kept in memory and
reloaded when the count or newest id of its vectors changes (chunk ids only grow).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.store import Store, StoreError

from .chunking import Chunk
from .records import Collection, Source


@dataclass(frozen=True)
class KnownSource:
    id: int
    size: int
    mtime_ns: int
    sha256: str | None
    state: str


@dataclass(frozen=True)
class ChunkRow:
    id: int
    source_id: int
    path: str
    text: str
    location: str
    start: int
    end: int


class KnowledgeStore:
    """Collections, their files, chunks and vectors in the history database of `store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._matrices: dict[int, tuple[tuple[int, int], np.ndarray, np.ndarray]] = {}
        self._matrix_lock = threading.Lock()

    # ------------------------------------------------------------ collections

    def collection_id(self, name: str) -> int | None:
        with self.store._reading("read the knowledge collection") as conn:
            row = conn.execute("SELECT id FROM knowledge_collections WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else None

    def require(self, name: str) -> int:
        found = self.collection_id(name)
        if found is None:
            raise StoreError(f"There is no knowledge collection named {name!r}.")
        return found

    def create_collection(self, name: str, embedder: str, dimension: int) -> int:
        """The collection's id, creating it if it is new."""
        if not name.strip():
            raise StoreError("A knowledge collection needs a name.")
        now = time.time()
        with self.store._transaction("create the knowledge collection") as tx:
            tx.execute("INSERT INTO knowledge_collections (name, embedder, dimension, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO NOTHING", (name, embedder, dimension, now, now))
            return int(tx.execute("SELECT id FROM knowledge_collections WHERE name = ?", (name,)).fetchone()[0])

    def embedder_of(self, collection_id: int) -> tuple[str, int]:
        with self.store._reading("read the knowledge collection") as conn:
            row = conn.execute("SELECT embedder, dimension FROM knowledge_collections WHERE id = ?",
                               (collection_id,)).fetchone()
        return str(row[0]), int(row[1])

    def switch_embedder(self, collection_id: int, embedder: str, dimension: int) -> None:
        """A new embedding model: every file is forgotten, so the next run embeds all of it again."""
        with self.store._transaction("change the collection's embedding model") as tx:
            tx.execute("DELETE FROM knowledge_sources WHERE collection_id = ?", (collection_id,))
            tx.execute("UPDATE knowledge_collections SET embedder = ?, dimension = ?, updated_at = ? WHERE id = ?",
                       (embedder, dimension, time.time(), collection_id))

    def delete_collection(self, collection_id: int) -> None:
        with self.store._transaction("remove the knowledge collection") as tx:
            tx.execute("DELETE FROM knowledge_collections WHERE id = ?", (collection_id,))
        self._matrices.pop(collection_id, None)

    def collections(self) -> list[Collection]:
        with self.store._reading("list knowledge collections") as conn:
            rows = conn.execute(
                "SELECT c.id, c.name, c.embedder, c.dimension, "
                "(SELECT count(*) FROM knowledge_sources s WHERE s.collection_id = c.id AND s.state = 'indexed'), "
                "(SELECT count(*) FROM knowledge_sources s WHERE s.collection_id = c.id AND s.state = 'failed'), "
                "(SELECT coalesce(sum(chunks), 0) FROM knowledge_sources s WHERE s.collection_id = c.id) "
                "FROM knowledge_collections c ORDER BY c.name").fetchall()
            roots = {}
            for collection_id, path in conn.execute("SELECT collection_id, path FROM knowledge_roots ORDER BY path"):
                roots.setdefault(collection_id, []).append(path)
        return [Collection(r[0], r[1], r[2], r[3], tuple(roots.get(r[0], ())), r[4], r[5], r[6]) for r in rows]

    # ------------------------------------------------------------ roots (what the user added)

    def add_roots(self, collection_id: int, paths: Iterable[str]) -> None:
        now = time.time()
        with self.store._transaction("add to the knowledge collection") as tx:
            tx.executemany("INSERT OR IGNORE INTO knowledge_roots (collection_id, path, added_at) VALUES (?, ?, ?)",
                           [(collection_id, path, now) for path in paths])

    def roots(self, collection_id: int) -> list[str]:
        with self.store._reading("read the knowledge collection") as conn:
            return [row[0] for row in conn.execute(
                "SELECT path FROM knowledge_roots WHERE collection_id = ? ORDER BY path", (collection_id,))]

    def remove_root(self, collection_id: int, path: str, files: Sequence[str]) -> None:
        """Forget a root and `files`, the indexed files it alone brought in."""
        with self.store._transaction("remove from the knowledge collection") as tx:
            tx.execute("DELETE FROM knowledge_roots WHERE collection_id = ? AND path = ?", (collection_id, path))
            _delete_sources(tx, collection_id, files)

    # ------------------------------------------------------------ sources (files)

    def known_sources(self, collection_id: int) -> dict[str, KnownSource]:
        with self.store._reading("read the knowledge collection") as conn:
            rows = conn.execute("SELECT path, id, size, mtime_ns, sha256, state FROM knowledge_sources "
                                "WHERE collection_id = ?", (collection_id,)).fetchall()
        return {row[0]: KnownSource(*row[1:]) for row in rows}

    def sources(self, collection_id: int) -> list[Source]:
        with self.store._reading("read the knowledge collection") as conn:
            rows = conn.execute("SELECT path, state, reason, kind, size, chunks FROM knowledge_sources "
                                "WHERE collection_id = ? ORDER BY path", (collection_id,)).fetchall()
        return [Source(*row) for row in rows]

    def save_indexed(self, collection_id: int, path: str, *, size: int, mtime_ns: int, sha256: str, kind: str,
                     chars: int, chunks: Sequence[Chunk], contexts: Sequence[str], vectors: np.ndarray) -> None:
        """One file's chunks and vectors replace whatever it had, in one transaction."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self.store._transaction("save the file's index") as tx:
            source_id = _upsert_source(tx, collection_id, path, size, mtime_ns, sha256, "indexed", None, kind,
                                       chars, len(chunks))
            tx.execute("DELETE FROM knowledge_chunks WHERE source_id = ?", (source_id,))
            for ordinal, (chunk, context, vector) in enumerate(zip(chunks, contexts, vectors)):
                chunk_id = tx.execute(
                    "INSERT INTO knowledge_chunks (source_id, collection_id, ordinal, text, context, location, start, end) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (source_id, collection_id, ordinal, chunk.text, context, chunk.location, chunk.start, chunk.end),
                ).lastrowid
                tx.execute("INSERT INTO knowledge_vectors (chunk_id, collection_id, vector) VALUES (?, ?, ?)",
                           (chunk_id, collection_id, vector.tobytes()))
            tx.execute("UPDATE knowledge_collections SET updated_at = ? WHERE id = ?", (time.time(), collection_id))

    def save_failed(self, collection_id: int, path: str, *, size: int, mtime_ns: int, sha256: str | None,
                    reason: str) -> None:
        """A file that cannot be indexed: kept with its reason (and without chunks) until it changes."""
        with self.store._transaction("save the file's index") as tx:
            source_id = _upsert_source(tx, collection_id, path, size, mtime_ns, sha256, "failed", reason, None, 0, 0)
            tx.execute("DELETE FROM knowledge_chunks WHERE source_id = ?", (source_id,))

    def touch_source(self, source_id: int, size: int, mtime_ns: int) -> None:
        """Same content, new stat (a copy, a `touch`): remember the stat so the next run skips it."""
        with self.store._transaction("save the file's index") as tx:
            tx.execute("UPDATE knowledge_sources SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, source_id))

    def remove_sources(self, collection_id: int, paths: Sequence[str]) -> None:
        if paths:
            with self.store._transaction("remove files from the knowledge collection") as tx:
                _delete_sources(tx, collection_id, paths)

    # ------------------------------------------------------------ retrieval

    def keyword_candidates(self, collection_id: int, expression: str, limit: int) -> list[int]:
        """Chunk ids best first by BM25 (FTS5 `rank`) for an FTS5 MATCH expression."""
        with self.store._reading("search the knowledge collection") as conn:
            rows = conn.execute(
                "SELECT c.id FROM knowledge_fts JOIN knowledge_chunks AS c ON c.id = knowledge_fts.rowid "
                "WHERE knowledge_fts MATCH ? AND c.collection_id = ? ORDER BY knowledge_fts.rank LIMIT ?",
                (expression, collection_id, limit)).fetchall()
        return [row[0] for row in rows]

    def vectors(self, collection_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, matrix of unit vectors) of the collection, cached until its vectors change."""
        with self.store._reading("read the knowledge vectors") as conn:
            key = tuple(conn.execute("SELECT count(*), coalesce(max(chunk_id), 0) FROM knowledge_vectors "
                                     "WHERE collection_id = ?", (collection_id,)).fetchone())
            with self._matrix_lock:
                cached = self._matrices.get(collection_id)
                if cached is not None and cached[0] == key:
                    return cached[1], cached[2]
            rows = conn.execute("SELECT chunk_id, vector FROM knowledge_vectors WHERE collection_id = ? "
                                "ORDER BY chunk_id", (collection_id,)).fetchall()
        dimension = self.embedder_of(collection_id)[1]
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), dimension)
        with self._matrix_lock:
            self._matrices[collection_id] = (key, ids, matrix)
        return ids, matrix

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        with self.store._reading("read knowledge passages") as conn:
            rows = conn.execute(
                "SELECT c.id, c.source_id, s.path, c.text, c.location, c.start, c.end FROM knowledge_chunks AS c "
                f"JOIN knowledge_sources AS s ON s.id = c.source_id WHERE c.id IN ({marks})", list(chunk_ids)).fetchall()
        return {row[0]: ChunkRow(*row) for row in rows}

    def document_text(self, source_id: int) -> str:
        """A file's text rebuilt from its chunks' spans (overlaps once; gaps, only blank lines and
        page markers, as a blank line)."""
        with self.store._reading("read a knowledge file") as conn:
            rows = conn.execute("SELECT text, start, end FROM knowledge_chunks WHERE source_id = ? ORDER BY start",
                                (source_id,)).fetchall()
        parts: list[str] = []
        reached = 0
        for text, start, end in rows:
            if end <= reached:
                continue
            if start > reached and parts:
                parts.append("\n\n")
            parts.append(text[max(0, reached - start):])
            reached = end
        return "".join(parts)


def _upsert_source(tx, collection_id: int, path: str, size: int, mtime_ns: int, sha256: str | None, state: str,
                   reason: str | None, kind: str | None, chars: int, chunks: int) -> int:
    tx.execute(
        "INSERT INTO knowledge_sources (collection_id, path, size, mtime_ns, sha256, state, reason, kind, chars, chunks, "
        "indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(collection_id, path) DO UPDATE SET "
        "size = excluded.size, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256, state = excluded.state, "
        "reason = excluded.reason, kind = excluded.kind, chars = excluded.chars, chunks = excluded.chunks, "
        "indexed_at = excluded.indexed_at",
        (collection_id, path, size, mtime_ns, sha256, state, reason, kind, chars, chunks, time.time()))
    return int(tx.execute("SELECT id FROM knowledge_sources WHERE collection_id = ? AND path = ?",
                          (collection_id, path)).fetchone()[0])


def _delete_sources(tx, collection_id: int, paths: Sequence[str]) -> None:
    tx.executemany("DELETE FROM knowledge_sources WHERE collection_id = ? AND path = ?",
                   [(collection_id, path) for path in paths])
