"""Files the user attaches to one message. Each is read once when attached, so a file that cannot be
read says so at once beside the composer; one too long to go into the message whole is copied into
Hearth's data folder (the chat keeps working when the original moves or changes) and indexed into
the chat's own collection, `chat:<conversation id>`, which answers in that chat search."""
from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.cancel import Cancel

from .documents import read_document
from .embedder import Embedder
from .extract import ExtractionError, human_size
from .index_store import KnowledgeStore
from .indexer import MAX_FILE_BYTES, MAX_TEXT_CHARS, index_collection
from .records import IndexProgress

READABLE = "PDF, Word .docx, text, Markdown, source code or HTML"


@dataclass(frozen=True)
class ReadDocument:
    """An attached file's text, read when it was attached."""
    path: str
    sha256: str
    size: int
    kind: str
    text: str

    @property
    def name(self) -> str:
        return Path(self.path).name


CHAT_PREFIX = "chat:"


def chat_collection(conversation_id: int) -> str:
    """The name of a chat's private collection (the answer runner searches it when it exists)."""
    return f"{CHAT_PREFIX}{conversation_id}"


def read_attached(path: str | os.PathLike[str]) -> ReadDocument:
    """The file's text; raises ExtractionError with a reason fit for "Cannot attach 'x': <reason>."."""
    path = Path(path)
    if path.is_dir():
        raise ExtractionError("it is a folder (add folders to a knowledge collection instead)")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ExtractionError(exc.strerror or type(exc).__name__) from None
    if size > MAX_FILE_BYTES:
        raise ExtractionError(f"the file is {human_size(size)}; the limit is {human_size(MAX_FILE_BYTES)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractionError(exc.strerror or type(exc).__name__) from None
    try:
        document = read_document(str(path), data)
    except ExtractionError as exc:
        if exc.reason.startswith("it is a binary file"):
            raise ExtractionError(f"it is not a document Hearth reads ({READABLE})") from None
        raise
    if not document.text.strip():
        raise ExtractionError("it holds no text")
    if len(document.text) > MAX_TEXT_CHARS:
        raise ExtractionError(f"its text is {len(document.text):,} characters; the limit is {MAX_TEXT_CHARS:,}")
    return ReadDocument(str(path), hashlib.sha256(data).hexdigest(), size, document.kind, document.text)


def keep_copy(folder: Path, document: ReadDocument) -> Path:
    """The document's own copy under `folder`, named by its content (the same file attached twice
    is kept once) and by its name (sources then read "report.pdf · page 3")."""
    target = Path(folder) / document.sha256[:16] / document.name
    if target.is_file() and target.stat().st_size == document.size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    try:
        shutil.copyfile(document.path, partial)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ExtractionError(f"it could not be kept in Hearth's folder: {exc.strerror or exc}") from None
    return target


def index_for_chat(knowledge: KnowledgeStore, conversation_id: int, paths: Sequence[Path], embedder: Embedder,
                   cancel: Cancel | None = None) -> Iterator[IndexProgress]:
    """Add `paths` (kept copies) to the chat's collection, created if new, and index it; yields
    progress, raises Cancelled. A file that fails is reported with its reason, as in any collection."""
    name = chat_collection(conversation_id)
    collection_id = knowledge.create_collection(name, embedder.name, embedder.dimension)
    knowledge.add_roots(collection_id, [str(Path(p)) for p in paths])
    yield from index_collection(knowledge, name, embedder, cancel=cancel)


def indexed_text(knowledge: KnowledgeStore, conversation_id: int, name: str) -> tuple[str, str] | None:
    """(path of the kept copy, its text as indexed) for a document named `name` in the chat's
    collection, or None when the chat has no such indexed document."""
    collection_id = knowledge.collection_id(chat_collection(conversation_id))
    if collection_id is None:
        return None
    for path, known in sorted(knowledge.known_sources(collection_id).items()):
        if Path(path).name == name and known.state == "indexed":
            return path, knowledge.document_text(known.id)
    return None


def forget_chats(knowledge: KnowledgeStore, conversation_ids: Sequence[int], folder: Path) -> int:
    """A purged chat's documents go with it: its private collection (passages and vectors) and the
    kept copies no remaining chat still indexes. Returns how many copies were removed."""
    for conversation_id in conversation_ids:
        collection_id = knowledge.collection_id(chat_collection(conversation_id))
        if collection_id is not None:
            knowledge.delete_collection(collection_id)
    in_use = {str(Path(root)) for c in knowledge.collections() if c.name.startswith(CHAT_PREFIX)
              for root in knowledge.roots(c.id)}
    removed = 0
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    for path in folder.rglob("*"):
        if path.is_file() and str(path) not in in_use:
            path.unlink(missing_ok=True)
            removed += 1
    for directory in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        try:
            directory.rmdir()  # only the empty ones
        except OSError:
            pass
    return removed
