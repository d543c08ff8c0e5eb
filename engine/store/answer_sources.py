"""The passages an answer was given to cite, kept with it (table `answer_sources`, migration 9):
the transcript lists them under the answer by the numbers the prompt gave them, and they go
when the answer goes. Borrows the Store's connection like the knowledge tables."""
from __future__ import annotations

from collections.abc import Sequence

from .database import SQLITE_PARAMETER_CHUNK, Store, _text
from .records import AnswerSource

COLUMNS = "message_id, number, collection, path, location, start, end, passage"


def save_sources(store: Store, message_id: int, sources: Sequence[AnswerSource]) -> None:
    """The answer's sources (replacing any it had); an answer deleted meanwhile is left alone."""
    with store._transaction("save the answer's sources") as tx:
        if tx.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone() is None:
            return
        tx.execute("DELETE FROM answer_sources WHERE message_id = ?", (message_id,))
        tx.executemany(f"INSERT INTO answer_sources ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
            (message_id, int(s.number), _text(s.collection), _text(s.path), _text(s.location), int(s.start),
             int(s.end), _text(s.passage)) for s in sources])


def sources_for(store: Store, message_ids: Sequence[int]) -> dict[int, list[AnswerSource]]:
    """Each answer's sources by number; answers without any are left out."""
    found: dict[int, list[AnswerSource]] = {}
    ids = [int(i) for i in message_ids]
    with store._reading("read the answer's sources") as conn:
        for start in range(0, len(ids), SQLITE_PARAMETER_CHUNK):
            chunk = ids[start:start + SQLITE_PARAMETER_CHUNK]
            for row in conn.execute(f"SELECT {COLUMNS} FROM answer_sources WHERE message_id IN "
                                    f"({','.join('?' * len(chunk))}) ORDER BY message_id, number", chunk):
                message_id, number, collection, path, location, begin, end, passage = row
                found.setdefault(message_id, []).append(
                    AnswerSource(number, path, location, begin, end, passage, collection))
    return found
