"""The chat history: one SQLite file (WAL mode) shared by the GUI thread and generation workers.

Durability: `synchronous=NORMAL` in WAL mode. A COMMIT appends its frames to the -wal file
with write() before it returns, so the data sits in the operating system's page cache and
survives the death of the process (SIGKILL, a native crash, the OOM killer): the next open
replays the WAL. Only an OS crash or power loss before the next checkpoint's fsync could
lose the latest commits, and even then the database stays consistent. FULL would add an
fsync per commit (the worker saves a growing answer every second) for no gain against
process death.

One connection (`check_same_thread=False`) guarded by an RLock: every public method takes
the lock, so calls from different threads never interleave inside a transaction. Search is
the exception: it reads through a second, read-only connection with its own lock (opened on
the first search), so a search running on a background thread never holds up a save on the
main connection, and a save never holds up a search (WAL readers see the last commit).
"""
from __future__ import annotations

import errno
import json
import shutil
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from .migrations import migrate
from .records import (
    ROLES,
    SNIPPET_CLOSE,
    SNIPPET_OPEN,
    STATES,
    TOOL_STATES,
    AnswerVersion,
    Attachment,
    Conversation,
    Message,
    SearchHit,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    Thinking,
    ToolStep,
)

if TYPE_CHECKING:
    from .records import RecoveryReport

BUSY_TIMEOUT_MS = 5000
JOURNAL_SIZE_LIMIT = 32 * 1024 * 1024  # shrink the WAL back after a very large write
LOW_DISK_BYTES = 64 * 1024 * 1024
SQLITE_PARAMETER_CHUNK = 500
# Search ranks (BM25) only the newest this-many matches (or `limit`, if more): FTS5 walks a
# term's matches newest first and stops there. Ranking every match of a common word cost
# 50-80 ms over 200,000 messages (bench/search.py); this window, ~4 ms, and 500 ~5 ms. A word
# with fewer matches is ranked over the whole history.
SEARCH_WINDOW = 200

CONVERSATION_COLUMNS = "id, title, system_prompt, settings_json, created_at, updated_at"
MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, state, model, error, prompt_tokens, completion_tokens, "
    "prompt_ms, decode_ms, tokens_per_second, created_at, updated_at"
)
ATTACHMENT_COLUMNS = "id, message_id, sha256, mime, path, width, height, bytes"

FULL_MESSAGE = (
    "Hearth could not save because the disk is full. Nothing that was already saved was lost; "
    "free some disk space and try again."
)


class Store:
    """Conversations, messages and attachments in one SQLite file (":memory:" for tests)."""

    def __init__(self, path: str | Path, *, mark_cut_off: bool = True) -> None:
        """`mark_cut_off`: answers still 'streaming' (and tool calls still running) were cut off
        by a crash; the app marks them when it opens its history. A second process opening the
        same history while the window answers (`hearth ask -c`) must not."""
        self.path = path if str(path) == ":memory:" else Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._search_lock = threading.Lock()  # taken before self._lock, never after
        self._reader: sqlite3.Connection | None = None  # search's read-only connection
        self._closing = False
        if isinstance(self.path, Path):
            # Where search opens its connection, fixed now in case the working directory changes.
            self._search_uri = self.path.absolute().as_uri() + "?mode=ro"
            from .recovery import has_sqlite_header

            # Opening a non-database read-write would make SQLite delete its -wal and -shm.
            if not has_sqlite_header(self.path):
                raise StoreCorruptError(
                    f"Hearth's chat history file {self.path} is damaged (it is not a database). "
                    "Restart Hearth to keep a copy of it and recover what can be read."
                )
        try:
            conn = sqlite3.connect(
                str(self.path),
                check_same_thread=False,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as error:
            raise self._translate(error, "open the chat history") from error
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT:d}")
            migrate(conn)
            self._conn = conn
            if mark_cut_off:  # an answer still 'streaming' at open time was cut off by a crash or a kill
                with self._transaction("mark cut-off answers as interrupted") as tx:
                    tx.execute(
                        "UPDATE messages SET state = 'interrupted', updated_at = ? WHERE state = 'streaming'",
                        (time.time(),),
                    )
                    tx.execute(
                        "UPDATE tool_steps SET state = 'stopped', updated_at = ?, result = coalesce(result, "
                        "'Hearth stopped before this call finished.') WHERE state IN ('requested', 'running')",
                        (time.time(),),
                    )
        except BaseException as error:
            self._conn = None
            conn.close()
            if isinstance(error, (sqlite3.Error, OSError)):
                raise self._translate(error, "open the chat history") from error
            raise

    @classmethod
    def open_or_recover(cls, path: Path) -> tuple["Store", "RecoveryReport | None"]:
        """Open `path`; if it is damaged, keep a copy, start fresh and salvage what can be read."""
        from .recovery import open_or_recover

        return open_or_recover(cls, Path(path))

    def close(self) -> None:
        with self._lock:
            self._closing = True
            if self._reader is not None:
                self._reader.interrupt()  # a search in flight on another thread stops now
        with self._search_lock, self._lock:
            if self._reader is not None:  # first: the last connection to close tidies the WAL away
                self._reader.close()
                self._reader = None
            if self._conn is None:
                return
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- conversations

    def create_conversation(
        self, title: str = "New chat", system_prompt: str = "", settings: dict | None = None
    ) -> Conversation:
        now = time.time()
        settings_json = _settings_json(settings)
        with self._transaction("create a conversation") as tx:
            cursor = tx.execute(
                "INSERT INTO conversations (title, system_prompt, settings_json, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (_text(title), _text(system_prompt), settings_json, now, now),
            )
            conversation_id = int(cursor.lastrowid)
        return Conversation(conversation_id, _text(title), _text(system_prompt), json.loads(settings_json), now, now)

    def list_conversations(self) -> list[Conversation]:
        """Conversations not deleted, most recent activity first."""
        with self._reading("list conversations") as conn:
            rows = conn.execute(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE deleted_at IS NULL "
                "ORDER BY updated_at DESC, id DESC"
            ).fetchall()
        return [_conversation(row) for row in rows]

    def get_conversation(self, conversation_id: int) -> Conversation | None:
        """The conversation, or None if it does not exist or is deleted."""
        with self._reading("read a conversation") as conn:
            row = conn.execute(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ? AND deleted_at IS NULL",
                (conversation_id,),
            ).fetchone()
        return _conversation(row) if row else None

    def conversation_origins(self, conversation_ids: list[int]) -> dict[int, str]:
        """Where imported chats came from (chats made here have none): an export passes it on,
        so a chat that travels on is still known for what it is."""
        found: dict[int, str] = {}
        with self._reading("read the conversations") as conn:
            for start in range(0, len(conversation_ids), SQLITE_PARAMETER_CHUNK):
                chunk = conversation_ids[start:start + SQLITE_PARAMETER_CHUNK]
                found.update(conn.execute(
                    f"SELECT id, origin FROM conversations WHERE origin IS NOT NULL AND id IN "
                    f"({','.join('?' * len(chunk))})", chunk).fetchall())
        return found

    def touch_conversation(self, conversation_id: int) -> None:
        """Mark as just active: it moves to the top of the list."""
        with self._transaction("update the conversation") as tx:
            tx.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (time.time(), conversation_id))

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Rename; does not move the conversation in the list (updated_at means last activity)."""
        with self._transaction("rename the conversation") as tx:
            tx.execute("UPDATE conversations SET title = ? WHERE id = ?", (_text(title), conversation_id))

    def update_conversation(
        self, conversation_id: int, *, system_prompt: str | None = None, settings: dict | None = None
    ) -> None:
        assignments: dict[str, Any] = {}
        if system_prompt is not None:
            assignments["system_prompt"] = _text(system_prompt)
        if settings is not None:
            assignments["settings_json"] = _settings_json(settings)
        if not assignments:
            return
        columns = ", ".join(f"{name} = ?" for name in assignments)
        with self._transaction("save the conversation settings") as tx:
            tx.execute(f"UPDATE conversations SET {columns} WHERE id = ?", (*assignments.values(), conversation_id))

    def delete_conversation(self, conversation_id: int) -> None:
        """Hide the conversation; `restore_conversation` undoes it until `purge_deleted` runs."""
        with self._transaction("delete the conversation") as tx:
            tx.execute(
                "UPDATE conversations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
                (time.time(), conversation_id),
            )

    def restore_conversation(self, conversation_id: int) -> None:
        with self._transaction("restore the conversation") as tx:
            tx.execute("UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conversation_id,))

    def deleted_conversation_ids(self) -> list[int]:
        """Chats deleted but not yet purged (what `purge_deleted` is about to remove)."""
        with self._reading("read the deleted conversations") as conn:
            return [row[0] for row in conn.execute("SELECT id FROM conversations WHERE deleted_at IS NOT NULL")]

    def purge_deleted(self) -> int:
        """Really delete soft-deleted conversations (with their messages and attachment rows); return how many.

        Attachment files are not touched: call `attachment_paths_in_use` to know which files
        are still referenced before sweeping the attachments folder.
        """
        with self._transaction("clean up deleted conversations") as tx:
            cursor = tx.execute("DELETE FROM conversations WHERE deleted_at IS NOT NULL")
            return int(cursor.rowcount)

    # ---------------------------------------------------------------- messages

    def add_message(
        self, conversation_id: int, role: str, content: str, *, state: str = "complete", model: str | None = None
    ) -> Message:
        """Append a message and mark the conversation as just active."""
        _check_role(role)
        _check_state(state)
        content = _text(content)
        now = time.time()
        with self._transaction("save the message") as tx:
            if tx.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is None:
                raise StoreError("That conversation no longer exists, so the message was not saved.")
            cursor = tx.execute(
                "INSERT INTO messages (conversation_id, role, content, model, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, model, state, now, now),
            )
            message_id = int(cursor.lastrowid)
            tx.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        return Message(message_id, conversation_id, role, content, state, model, None, None, None, None, None, None, now, now)

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        state: str | None = None,
        error: str | None = None,
        model: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        prompt_ms: float | None = None,
        decode_ms: float | None = None,
        tokens_per_second: float | None = None,
    ) -> None:
        """Change the given fields (None = leave as is). A message deleted meanwhile is ignored."""
        if state is not None:
            _check_state(state)
        fields: dict[str, Any] = {
            "content": None if content is None else _text(content),
            "state": state,
            "error": None if error is None else _text(error),
            "model": model,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "prompt_ms": prompt_ms,
            "decode_ms": decode_ms,
            "tokens_per_second": tokens_per_second,
        }
        self._update_row("messages", message_id, fields, "save the message")

    def _update_row(self, table: str, row_id: int, fields: dict[str, Any], doing: str) -> None:
        """Set the given columns (None = leave as is) and the row's updated_at."""
        assignments = {name: value for name, value in fields.items() if value is not None}
        if not assignments:
            return
        assignments["updated_at"] = time.time()
        columns = ", ".join(f"{name} = ?" for name in assignments)
        with self._transaction(doing) as tx:
            tx.execute(f"UPDATE {table} SET {columns} WHERE id = ?", (*assignments.values(), row_id))

    def get_message(self, message_id: int) -> Message | None:
        with self._reading("read a message") as conn:
            row = conn.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)).fetchone()
        return Message(*row) if row else None

    def messages(self, conversation_id: int, *, limit: int | None = None, before_id: int | None = None) -> list[Message]:
        """Messages in chronological order; with `limit`, the newest `limit` ones older than `before_id`."""
        sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?"
        params: list[Any] = [conversation_id]
        if before_id is not None:
            sql += " AND id < ?"
            params.append(before_id)
        if limit is None:
            sql += " ORDER BY id"
        else:
            sql += " ORDER BY id DESC LIMIT ?"
            params.append(max(0, int(limit)))
        with self._reading("read the conversation") as conn:
            rows = conn.execute(sql, params).fetchall()
        if limit is not None:
            rows.reverse()
        return [Message(*row) for row in rows]

    def count_messages(self, conversation_id: int) -> int:
        with self._reading("count messages") as conn:
            return int(conn.execute("SELECT count(*) FROM messages WHERE conversation_id = ?", (conversation_id,)).fetchone()[0])

    def delete_message(self, message_id: int) -> None:
        with self._transaction("delete the message") as tx:
            tx.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def rewrite_message(self, message_id: int, content: str) -> Message:
        """An edited question: new words for `message_id`, and every later message of its chat
        gone, in one transaction (a failure leaves the old turn whole). Its images stay with it."""
        content = _text(content)
        now = time.time()
        with self._transaction("save the edited message") as tx:
            row = tx.execute("SELECT conversation_id FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise StoreError("That message no longer exists, so the edit was not saved.")
            tx.execute("DELETE FROM messages WHERE conversation_id = ? AND id > ?", (row[0], message_id))
            tx.execute("DELETE FROM answer_versions WHERE question_id = ?", (message_id,))  # they answered the old words
            tx.execute("UPDATE messages SET content = ?, updated_at = ? WHERE id = ?", (content, now, message_id))
            tx.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, row[0]))
        message = self.get_message(message_id)
        assert message is not None
        return message

    def delete_messages_from(self, conversation_id: int, message_id: int) -> None:
        """Delete this message and every later one in the conversation (edit-and-resend, regenerate)."""
        with self._transaction("delete messages") as tx:
            tx.execute("DELETE FROM messages WHERE conversation_id = ? AND id >= ?", (conversation_id, message_id))

    # ---------------------------------------------------------------- answer versions

    def set_aside_answer(self, answer_id: int) -> None:
        """Regenerate: the answer leaves the conversation, with anything after it, and is kept as
        a version of its question, in one transaction. An answer without a word is not kept."""
        with self._transaction("keep the earlier answer") as tx:
            row = tx.execute("SELECT conversation_id, content FROM messages WHERE id = ? AND role = 'assistant'",
                             (answer_id,)).fetchone()
            if row is None:
                return
            conversation_id, content = row
            question = _question_of(tx, answer_id)
            if question is not None and content.strip():
                _keep_as_version(tx, answer_id, question, _version_numbers(tx, question)[0])
            tx.execute("DELETE FROM messages WHERE conversation_id = ? AND id >= ?", (conversation_id, answer_id))

    def answer_versions(self, answer_id: int) -> tuple[int, int]:
        """(which version is on show, how many there are) for an answer; (1, 1) for one never regenerated."""
        with self._reading("read the answer's versions") as conn:
            question = _question_of(conn, answer_id)
            return _version_numbers(conn, question) if question is not None else (1, 1)

    def show_answer_version(self, answer_id: int, number: int) -> Message:
        """Put version `number` of this answer on show; the one shown until now becomes a version.
        The message keeps its id and place, so the conversation, its prompt and search follow."""
        with self._transaction("show the other answer") as tx:
            question = _question_of(tx, answer_id)
            if question is None:
                raise StoreError("That answer no longer exists.")
            shown, total = _version_numbers(tx, question)
            if number != shown:
                if not 1 <= number <= total or tx.execute(
                        "SELECT 1 FROM answer_versions WHERE question_id = ? AND number = ?", (question, number)).fetchone() is None:
                    raise StoreError(f"This answer has no version {number}.")
                _keep_as_version(tx, answer_id, question, shown)
                tx.execute(f"UPDATE messages SET ({VERSION_COLUMNS}) = (SELECT {VERSION_COLUMNS} FROM answer_versions "
                           "WHERE question_id = ? AND number = ?), updated_at = ? WHERE id = ?",
                           (question, number, time.time(), answer_id))
                sources = tx.execute("SELECT sources_json FROM answer_versions WHERE question_id = ? AND number = ?",
                                     (question, number)).fetchone()[0]
                _show_version_sources(tx, answer_id, sources)
                tx.execute("DELETE FROM answer_versions WHERE question_id = ? AND number = ?", (question, number))
        message = self.get_message(answer_id)
        assert message is not None
        return message

    def answer_versions_for(self, question_ids: list[int]) -> dict[int, list[AnswerVersion]]:
        """The answers set aside for each question, by number (the answer on show is not among
        them); questions without any are left out."""
        found: dict[int, list[AnswerVersion]] = {}
        with self._reading("read the answer's versions") as conn:
            for start in range(0, len(question_ids), SQLITE_PARAMETER_CHUNK):
                chunk = question_ids[start:start + SQLITE_PARAMETER_CHUNK]
                for row in conn.execute(
                        f"SELECT question_id, number, {VERSION_COLUMNS} FROM answer_versions WHERE question_id IN "
                        f"({','.join('?' * len(chunk))}) ORDER BY question_id, number", chunk):
                    found.setdefault(row[0], []).append(AnswerVersion(*row))
        return found

    # ---------------------------------------------------------------- search

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages matching every word of `query` (the last word as a prefix), best first.

        Best (BM25, then newest) among the newest SEARCH_WINDOW matches of chats not deleted:
        a rare word is found anywhere in the history, a common one among what was said lately.
        Safe to call from any thread: it reads through its own connection, so it neither waits
        for nor holds up a save (a second search waits for the first).

        The user's text is never FTS5 syntax: each word is quoted, so quotes, `*`, `NEAR(`,
        `-`, `AND`… are searched for as plain words and never raise.
        """
        expression = fts_expression(query)
        if expression is None or limit <= 0:
            return []
        limit = int(limit)
        with self._searching() as conn:
            # One read transaction, so both statements see the same snapshot (unless the
            # caller is inside a transaction of its own on an in-memory store).
            began = not conn.in_transaction
            if began:
                conn.execute("BEGIN")
            try:
                # ORDER BY rowid DESC is FTS5's own order: no sort, it stops after the window
                # (CROSS JOIN keeps FTS5 the outer loop, which that needs).
                window = conn.execute(
                    "SELECT f.rowid, f.rank, m.conversation_id, c.title, m.role "
                    "FROM messages_fts AS f "
                    "CROSS JOIN messages AS m ON m.id = f.rowid "
                    "CROSS JOIN conversations AS c ON c.id = m.conversation_id "
                    "WHERE messages_fts MATCH ? AND c.deleted_at IS NULL "
                    "ORDER BY f.rowid DESC LIMIT ?",
                    (expression, max(SEARCH_WINDOW, limit)),
                ).fetchall()
                best = sorted(window, key=lambda row: (row[1], -row[0]))[:limit]
                snippets = _snippets(conn, expression, [row[0] for row in best])
            except BaseException:
                if began:
                    self._rollback_quietly(conn)
                raise
            if began:
                conn.execute("COMMIT")  # ends the read: an open one would hold back WAL checkpoints
        return [SearchHit(conversation_id, title, message_id, role, snippets.get(message_id, ""))
                for message_id, _rank, conversation_id, title, role in best]

    # ---------------------------------------------------------------- thinking

    def save_thinking(self, message_id: int, text: str, seconds: float | None = None,
                      tokens: int | None = None) -> None:
        with self._transaction("save the thinking") as tx:
            if tx.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone() is None:
                return  # the answer was deleted meanwhile
            tx.execute(
                "INSERT INTO message_thinking (message_id, text, seconds, tokens, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(message_id) DO UPDATE SET text = excluded.text, seconds = excluded.seconds, "
                "tokens = COALESCE(excluded.tokens, tokens), updated_at = excluded.updated_at",
                (message_id, _text(text), seconds, tokens, time.time()),
            )

    def thinking_for(self, message_ids: list[int]) -> dict[int, Thinking]:
        """The thoughts of those answers that had any."""
        found: dict[int, Thinking] = {}
        with self._reading("read the thinking") as conn:
            for start in range(0, len(message_ids), 500):
                chunk = message_ids[start:start + 500]
                for row in conn.execute(
                        f"SELECT message_id, text, seconds, tokens FROM message_thinking WHERE message_id IN "
                        f"({','.join('?' * len(chunk))})", chunk):
                    found[row[0]] = Thinking(*row)
        return found

    # ---------------------------------------------------------------- tool steps

    def add_tool_step(self, message_id: int, *, round: int, call_id: str, name: str, arguments: str,
                      preamble: str = "", state: str = "requested") -> ToolStep:
        _check_tool_state(state)
        now = time.time()
        with self._transaction("save the tool call") as tx:
            if tx.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone() is None:
                raise StoreError("That answer no longer exists, so the tool call was not saved.")
            cursor = tx.execute(
                "INSERT INTO tool_steps (message_id, round, call_id, name, arguments, preamble, state, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (message_id, int(round), _text(call_id), _text(name), _text(arguments), _text(preamble), state, now, now),
            )
            step_id = int(cursor.lastrowid)
        return ToolStep(step_id, message_id, int(round), call_id, name, arguments, preamble, state, None, None, None, None)

    def update_tool_step(self, step_id: int, *, state: str | None = None, approval: str | None = None,
                         result: str | None = None, ok: bool | None = None, elapsed_s: float | None = None) -> None:
        if state is not None:
            _check_tool_state(state)
        fields = {"state": state, "approval": approval, "result": None if result is None else _text(result),
                  "ok": None if ok is None else int(bool(ok)), "elapsed_s": elapsed_s}
        self._update_row("tool_steps", step_id, fields, "save the tool call")

    def tool_steps_for(self, message_ids: list[int]) -> dict[int, list[ToolStep]]:
        """Each answer's tool steps in the order they were made (answers without any: [])."""
        found: dict[int, list[ToolStep]] = {mid: [] for mid in message_ids}
        if not message_ids:
            return found
        with self._reading("read the tool calls") as conn:
            for chunk_start in range(0, len(message_ids), 500):
                chunk = message_ids[chunk_start:chunk_start + 500]
                rows = conn.execute(
                    f"SELECT {TOOL_STEP_COLUMNS} FROM tool_steps WHERE message_id IN "
                    f"({','.join('?' * len(chunk))}) ORDER BY id", chunk).fetchall()
                for row in rows:
                    found[row[1]].append(_tool_step(row))
        return found

    # ---------------------------------------------------------------- attachments

    def add_attachment(
        self, message_id: int, *, sha256: str, mime: str, path: str, width: int, height: int, size: int
    ) -> Attachment:
        """Record a file kept in the attachments folder; `path` is relative to that folder."""
        _check_relative(path)
        with self._transaction("save the attachment") as tx:
            if tx.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone() is None:
                raise StoreError("That message no longer exists, so the attachment was not saved.")
            cursor = tx.execute(
                "INSERT INTO attachments (message_id, sha256, mime, path, width, height, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (message_id, sha256, mime, path, int(width), int(height), int(size)),
            )
            attachment_id = int(cursor.lastrowid)
        return Attachment(attachment_id, message_id, sha256, mime, path, int(width), int(height), int(size))

    def attachments(self, message_id: int) -> list[Attachment]:
        return self.attachments_for([message_id])[message_id]

    def attachments_for(self, message_ids: list[int]) -> dict[int, list[Attachment]]:
        """Attachments of many messages in one go; every requested id is a key (maybe with [])."""
        result: dict[int, list[Attachment]] = {int(message_id): [] for message_id in message_ids}
        ids = list(result)
        with self._reading("read attachments") as conn:
            for start in range(0, len(ids), SQLITE_PARAMETER_CHUNK):
                chunk = ids[start : start + SQLITE_PARAMETER_CHUNK]
                marks = ", ".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE message_id IN ({marks}) ORDER BY id", chunk
                ):
                    result[row[1]].append(Attachment(*row))
        return result

    def attachment_paths_in_use(self) -> set[str]:
        """Relative paths still referenced by some message (to sweep orphaned files after a purge)."""
        with self._reading("read attachments") as conn:
            return {row[0] for row in conn.execute("SELECT DISTINCT path FROM attachments")}

    # ---------------------------------------------------------------- import

    @contextmanager
    def import_transaction(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing write for importing chats: the importer (engine/store/chat_import.py)
        inserts rows through the connection, and any failure takes every one of them back."""
        with self._transaction("import the chats") as tx:
            yield tx

    # ---------------------------------------------------------------- health

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check`: "ok" when healthy, otherwise SQLite's list of problems."""
        with self._reading("check the chat history") as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(row[0]) for row in rows)

    def quick_check(self) -> str:
        """`PRAGMA quick_check`: like integrity_check without the index cross-checks (fast at startup)."""
        with self._reading("check the chat history") as conn:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        return "\n".join(str(row[0]) for row in rows)

    # ---------------------------------------------------------------- plumbing

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("The chat history is closed.")
        return self._conn

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; any failure rolls back and leaves the store usable."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except BaseException as error:
                self._rollback_quietly(conn)
                if isinstance(error, (sqlite3.Error, OSError)):
                    raise self._translate(error, doing) from error
                raise

    @contextmanager
    def _reading(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except (sqlite3.Error, OSError) as error:
                raise self._translate(error, doing) from error

    @contextmanager
    def _searching(self) -> Iterator[sqlite3.Connection]:
        """Search's own read-only connection under its own lock (never the write lock), opened
        on first use. An in-memory store has no second connection: it reads under the lock."""
        if not isinstance(self.path, Path):
            with self._reading("search") as conn:
                yield conn
            return
        with self._search_lock:
            try:
                yield self._search_connection()
            except (sqlite3.Error, OSError) as error:
                if self._closing or self._conn is None:  # close() interrupts a search in flight
                    raise StoreError("The chat history is closed.") from error
                raise self._translate(error, "search") from error

    def _search_connection(self) -> sqlite3.Connection:
        """The read-only connection (the caller holds self._search_lock)."""
        if self._closing or self._conn is None:
            raise StoreError("The chat history is closed.")
        if self._reader is None:
            conn = sqlite3.connect(
                self._search_uri,
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            try:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            except BaseException:
                conn.close()
                raise
            self._reader = conn
        return self._reader

    @staticmethod
    def _rollback_quietly(conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite already rolled back (it does after SQLITE_FULL and most I/O errors)

    def _translate(self, error: BaseException, doing: str) -> StoreError:
        """Turn a low-level failure into a StoreError whose message the UI can show."""
        if isinstance(error, OSError) and error.errno in _NO_SPACE_ERRNOS:
            return StoreFullError(FULL_MESSAGE)
        if not isinstance(error, sqlite3.Error):
            return StoreError(f"Hearth could not {doing}: {error}. Nothing that was already saved was lost.")
        code = getattr(error, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        text = str(error)
        if primary == sqlite3.SQLITE_FULL or "database or disk is full" in text:
            return StoreFullError(FULL_MESSAGE)
        if primary == sqlite3.SQLITE_IOERR and code in _WRITE_IOERRS and self._out_of_space():
            return StoreFullError(FULL_MESSAGE)
        if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in text or "not a database" in text:
            return StoreCorruptError(
                f"Hearth's chat history file {self.path} is damaged ({text}). "
                "Restart Hearth to keep a copy of it and recover what can be read."
            )
        if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return StoreError(
                "The chat history is in use by another program (is Hearth already running?). "
                "Close it and try again; nothing was lost."
            )
        if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH):
            return StoreError(f"Hearth cannot {doing}: it may not open or write {self.path} ({text}).")
        return StoreError(f"Hearth could not {doing}: {text}. Nothing that was already saved was lost.")

    def _out_of_space(self) -> bool:
        """Whether a failed write is explained by a full volume or a file size limit (EFBIG).

        SQLite reports ENOSPC as SQLITE_FULL but EFBIG/EDQUOT only as a generic write error.
        """
        try:
            import resource

            soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            if soft != resource.RLIM_INFINITY:
                return True
        except (ImportError, OSError, ValueError):  # no resource module on Windows
            pass
        if isinstance(self.path, Path):
            try:
                return shutil.disk_usage(self.path.parent).free < LOW_DISK_BYTES
            except OSError:
                return False
        return False


_NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EFBIG} | ({errno.EDQUOT} if hasattr(errno, "EDQUOT") else set())
_WRITE_IOERRS = {
    sqlite3.SQLITE_IOERR_WRITE,
    sqlite3.SQLITE_IOERR_TRUNCATE,
    sqlite3.SQLITE_IOERR_FSYNC,
    sqlite3.SQLITE_IOERR_SHMSIZE,
}


def _snippets(conn: sqlite3.Connection, expression: str, message_ids: list[int]) -> dict[int, str]:
    """The matched text of each message, with the matches marked. Only within the ids' rowid
    range: FTS5 computes a snippet only for the rows the WHERE clause keeps, and the `+` keeps
    the IN list from being handed to FTS5 as one lookup (one full MATCH) per id."""
    snippets: dict[int, str] = {}
    for start in range(0, len(message_ids), SQLITE_PARAMETER_CHUNK):
        chunk = message_ids[start : start + SQLITE_PARAMETER_CHUNK]
        marks = ", ".join("?" * len(chunk))
        snippets.update(conn.execute(
            "SELECT rowid, snippet(messages_fts, 0, ?, ?, '…', 16) FROM messages_fts "
            f"WHERE messages_fts MATCH ? AND rowid BETWEEN ? AND ? AND +rowid IN ({marks})",
            (SNIPPET_OPEN, SNIPPET_CLOSE, expression, min(chunk), max(chunk), *chunk),
        ).fetchall())
    return snippets


def fts_expression(query: str) -> str | None:
    """An FTS5 MATCH expression for what the user typed: every word quoted, the last one a prefix."""
    cleaned = _text(query).replace("\x00", " ")
    words = [word for word in cleaned.split() if _has_token_character(word)]
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"' for word in words) + "*"


def _has_token_character(word: str) -> bool:
    # unicode61 indexes letters, numbers and private-use characters; a word without any
    # would become an empty phrase that matches nothing and empties the whole result.
    return any(unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) == "Co" for ch in word)


def _text(value: str) -> str:
    """Text SQLite can store: lone surrogates (never valid UTF-8) become U+FFFD instead of failing the save."""
    if not isinstance(value, str):
        raise StoreError(f"Expected text, got {type(value).__name__}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _settings_json(settings: dict | None) -> str:
    try:
        return json.dumps(settings or {}, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise StoreError(f"These conversation settings cannot be saved: {error}.") from error


def _conversation(row: tuple) -> Conversation:
    conversation_id, title, system_prompt, settings_json, created_at, updated_at = row
    try:
        settings = json.loads(settings_json)
    except (TypeError, ValueError):
        settings = {}
    if not isinstance(settings, dict):
        settings = {}
    return Conversation(conversation_id, title, system_prompt, settings, created_at, updated_at)


VERSION_COLUMNS = ("content, state, model, error, prompt_tokens, completion_tokens, prompt_ms, decode_ms, "
                   "tokens_per_second, created_at")


def _question_of(conn: sqlite3.Connection, answer_id: int) -> int | None:
    """The user message an answer replies to: the one just before it in its chat. None when
    `answer_id` is not an answer (or is gone), or no question precedes it."""
    row = conn.execute(
        "SELECT q.id, q.role FROM messages AS a JOIN messages AS q "
        "ON q.conversation_id = a.conversation_id AND q.id < a.id "
        "WHERE a.id = ? AND a.role = 'assistant' ORDER BY q.id DESC LIMIT 1", (answer_id,)).fetchone()
    return row[0] if row and row[1] == "user" else None


def _keep_as_version(conn: sqlite3.Connection, answer_id: int, question_id: int, number: int) -> None:
    """Copy the answer on show into the kept versions as `number`, with the sources it cited."""
    conn.execute(f"INSERT INTO answer_versions (question_id, number, {VERSION_COLUMNS}, sources_json) "
                 f"SELECT ?, ?, {VERSION_COLUMNS}, ({SOURCES_AS_JSON}) FROM messages WHERE id = ?",
                 (question_id, number, answer_id, answer_id))


# An answer's sources as one JSON array (NULL when it has none), and back into answer_sources.
SOURCES_AS_JSON = ("SELECT json_group_array(json_object('number', number, 'collection', collection, 'path', path, "
                   "'location', location, 'start', start, 'end', end, 'passage', passage)) FROM answer_sources "
                   "WHERE message_id = ? HAVING count(*) > 0")


def _show_version_sources(conn: sqlite3.Connection, answer_id: int, sources_json: str | None) -> None:
    conn.execute("DELETE FROM answer_sources WHERE message_id = ?", (answer_id,))
    if sources_json:
        conn.execute("INSERT INTO answer_sources (message_id, number, collection, path, location, start, end, passage) "
                     "SELECT ?, json_extract(value, '$.number'), json_extract(value, '$.collection'), "
                     "json_extract(value, '$.path'), json_extract(value, '$.location'), json_extract(value, '$.start'), "
                     "json_extract(value, '$.end'), json_extract(value, '$.passage') FROM json_each(?)",
                     (answer_id, sources_json))


def _version_numbers(conn: sqlite3.Connection, question_id: int) -> tuple[int, int]:
    """(the number of the answer on show, how many versions): the rows kept hold every number
    of 1..n but the one on show."""
    kept = {row[0] for row in conn.execute("SELECT number FROM answer_versions WHERE question_id = ?", (question_id,))}
    total = len(kept) + 1
    return next(n for n in range(1, total + 1) if n not in kept), total


TOOL_STEP_COLUMNS = "id, message_id, round, call_id, name, arguments, preamble, state, approval, result, ok, elapsed_s"


def _tool_step(row: tuple) -> ToolStep:
    return ToolStep(*row[:10], None if row[10] is None else bool(row[10]), row[11])


def _check_tool_state(state: str) -> None:
    if state not in TOOL_STATES:
        raise ValueError(f"unknown tool step state {state!r}")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise StoreError(f"Unknown message role {role!r}; expected one of {', '.join(ROLES)}.")


def _check_state(state: str) -> None:
    if state not in STATES:
        raise StoreError(f"Unknown message state {state!r}; expected one of {', '.join(STATES)}.")


def _check_relative(path: str) -> None:
    posix, windows = PurePosixPath(path), PureWindowsPath(path)
    if not path or posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in posix.parts or ".." in windows.parts:
        raise StoreError(f"Attachment path {path!r} must be relative to the attachments folder.")
