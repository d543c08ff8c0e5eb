"""The document an answer's source came from, with the passage's place in it, for the window's
passage view. The saved span points into the file's extracted text, so the file is read again
when it is still there and unchanged at that span; otherwise the collection's copy of its text
(stitched from its chunks) is searched for the passage; failing both, the passage alone is shown,
as the answer saw it, with a note saying why."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.store import StoreError
from engine.store.records import AnswerSource

from .documents import read_document
from .extract import ExtractionError
from .index_store import KnowledgeStore
from .indexer import MAX_FILE_BYTES

WHOLE_FILE = "whole file"


@dataclass(frozen=True)
class SourceDocument:
    """Text to show, and the passage's span in it ((0, 0) when the answer was given all of it)."""
    text: str
    start: int
    end: int
    note: str = ""   # '' or a line for the user: why this is not the file as it is now


def source_document(knowledge: KnowledgeStore | None, source: AnswerSource) -> SourceDocument:
    """Never raises for a missing, changed or unreadable file: the note says what happened."""
    whole = source.location == WHOLE_FILE
    text, why = _file_text(source.path)
    if text is not None:
        if whole:
            return SourceDocument(text, 0, 0, "The answer was given this whole file.")
        if text[source.start:source.end] == source.passage:
            return SourceDocument(text, source.start, source.end)
        found = text.find(source.passage)
        if found >= 0:
            return SourceDocument(text, found, found + len(source.passage))
        why = "the file has changed since the answer"
    stored = _indexed_text(knowledge, source)
    if stored is not None:
        found = 0 if whole else stored.find(source.passage)
        if found >= 0:
            note = f"Shown from Hearth's index ({why})."
            return SourceDocument(stored, found, found if whole else found + len(source.passage), note)
    return SourceDocument(source.passage, 0, 0 if whole else len(source.passage),
                          f"Only the passage the answer saw is shown: {why}.")


def _file_text(path: str) -> tuple[str | None, str]:
    """(the file's extracted text, '') or (None, why not)."""
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            return None, "the file is now too large to read"
        data = Path(path).read_bytes()
        return read_document(path, data).text, ""
    except FileNotFoundError:
        return None, "the file is no longer there"
    except OSError as exc:
        return None, f"the file cannot be read ({exc.strerror or type(exc).__name__})"
    except ExtractionError as exc:
        return None, f"the file cannot be read ({exc.reason})"


def _indexed_text(knowledge: KnowledgeStore | None, source: AnswerSource) -> str | None:
    if knowledge is None or not source.collection:
        return None
    try:
        collection_id = knowledge.collection_id(source.collection)
        known = knowledge.known_sources(collection_id).get(source.path) if collection_id is not None else None
        return knowledge.document_text(known.id) if known is not None and known.state == "indexed" else None
    except StoreError:
        return None
