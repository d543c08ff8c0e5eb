"""Forward-only schema migrations, numbered by `PRAGMA user_version`.

Each migration is a plain function appended to MIGRATIONS; migration N (1-based) brings the
schema from version N-1 to N. A migration and its version bump commit together, so a crash
mid-migration leaves the previous version intact. Never edit or reorder a shipped
migration: append a new one.
"""
from __future__ import annotations

import sqlite3
from typing import Callable

from .records import StoreError

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def latest_version() -> int:
    return len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, *, target: int | None = None) -> list[str]:
    """Apply pending migrations up to `target` (default: all); return the names applied.

    `conn` must be in autocommit mode (isolation_level=None): each step runs in its own
    BEGIN IMMEDIATE transaction so a second process cannot migrate at the same time.
    """
    target = latest_version() if target is None else target
    current = schema_version(conn)
    if current > latest_version():
        raise StoreError(
            f"This chat history was saved by a newer version of Hearth (schema {current}, "
            f"this version knows up to {latest_version()}). Update Hearth to open it; "
            "nothing was changed."
        )
    applied: list[str] = []
    for number in range(current + 1, target + 1):
        step = MIGRATIONS[number - 1]
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= number:  # another process got there first
                conn.execute("ROLLBACK")
                continue
            step(conn)
            conn.execute(f"PRAGMA user_version = {number:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(step.__name__)
    return applied


def _run(conn: sqlite3.Connection, statements: list[str]) -> None:
    # Not executescript(): it would COMMIT first and break the migration's transaction.
    for statement in statements:
        conn.execute(statement)


@migration
def m001_conversations_messages_attachments(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        [
            """
            CREATE TABLE conversations (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                title TEXT NOT NULL DEFAULT 'New chat',
                system_prompt TEXT NOT NULL DEFAULT '',
                settings_json TEXT NOT NULL DEFAULT '{}',
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                deleted_at REAL
            )
            """,
            """
            CREATE TABLE messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
                content TEXT NOT NULL DEFAULT '',
                model TEXT,
                state TEXT NOT NULL DEFAULT 'complete'
                    CHECK (state IN ('complete', 'streaming', 'interrupted', 'error')),
                error TEXT,
                prompt_tokens INTEGER,
                completion_tokens INTEGER,
                prompt_ms REAL,
                decode_ms REAL,
                tokens_per_second REAL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )
            """,
            """
            CREATE TABLE attachments (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                sha256 TEXT NOT NULL,
                mime TEXT NOT NULL,
                path TEXT NOT NULL,
                width INTEGER NOT NULL,
                height INTEGER NOT NULL,
                bytes INTEGER NOT NULL
            )
            """,
            "CREATE INDEX messages_by_conversation ON messages(conversation_id, id)",
            "CREATE INDEX messages_by_state ON messages(state) WHERE state = 'streaming'",
            "CREATE INDEX attachments_by_message ON attachments(message_id)",
            "CREATE INDEX attachments_by_sha256 ON attachments(sha256)",
            "CREATE INDEX conversations_by_activity ON conversations(deleted_at, updated_at)",
        ],
    )


@migration
def m002_message_search(conn: sqlite3.Connection) -> None:
    """Full-text search over message content: an external-content FTS5 table kept in step by triggers."""
    _run(
        conn,
        [
            """
            CREATE VIRTUAL TABLE messages_fts USING fts5(
                content,
                content='messages',
                content_rowid='id',
                tokenize='unicode61 remove_diacritics 2'
            )
            """,
            """
            CREATE TRIGGER messages_fts_after_insert AFTER INSERT ON messages BEGIN
                INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
            END
            """,
            """
            CREATE TRIGGER messages_fts_after_delete AFTER DELETE ON messages BEGIN
                INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
            END
            """,
            """
            CREATE TRIGGER messages_fts_after_update AFTER UPDATE OF content ON messages BEGIN
                INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
                INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
            END
            """,
            # Index what version 1 already holds.
            "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
        ],
    )


@migration
def m003_answer_versions(conn: sqlite3.Connection) -> None:
    """Answers set aside by Regenerate, kept with the question they answered.

    The answer on show stays an ordinary row of `messages`, so history, prompts and search
    never see two answers to one question. A question's versions are numbered 1..n: the rows
    here hold every number but one, and the answer on show is that one.
    """
    _run(
        conn,
        [
            """
            CREATE TABLE answer_versions (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                question_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                number INTEGER NOT NULL,
                content TEXT NOT NULL,
                state TEXT NOT NULL,
                model TEXT,
                error TEXT,
                prompt_tokens INTEGER,
                completion_tokens INTEGER,
                prompt_ms REAL,
                decode_ms REAL,
                tokens_per_second REAL,
                created_at REAL NOT NULL,
                UNIQUE (question_id, number)
            )
            """,
        ],
    )


@migration
def m004_tool_steps(conn: sqlite3.Connection) -> None:
    """Each tool call an answer made, saved as it happens: the call as the model wrote it, the
    user's approval, the result. An answer's rounds are its steps grouped by `round`; `preamble`
    holds what the model wrote in that round before asking (on the round's first step)."""
    _run(
        conn,
        [
            """
            CREATE TABLE tool_steps (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                round INTEGER NOT NULL,
                call_id TEXT NOT NULL,
                name TEXT NOT NULL,
                arguments TEXT NOT NULL,
                preamble TEXT NOT NULL DEFAULT '',
                state TEXT NOT NULL,
                approval TEXT,
                result TEXT,
                ok INTEGER,
                elapsed_s REAL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )
            """,
            "CREATE INDEX tool_steps_by_message ON tool_steps (message_id, id)",
        ],
    )


@migration
def m005_message_thinking(conn: sqlite3.Connection) -> None:
    """An answer's reasoning, kept beside it and never in its words: search, prompts and Copy
    see only the answer; the window shows the thought in its own section."""
    _run(
        conn,
        [
            """
            CREATE TABLE message_thinking (
                message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
                text TEXT NOT NULL,
                seconds REAL,
                updated_at REAL NOT NULL
            )
            """,
        ],
    )


@migration
def m006_thinking_tokens(conn: sqlite3.Connection) -> None:
    """How many tokens the thought took: the footer shows them apart from the answer's, and the
    think budget is counted in them."""
    _run(conn, ["ALTER TABLE message_thinking ADD COLUMN tokens INTEGER"])


@migration
def m007_conversation_origin(conn: sqlite3.Connection) -> None:
    """Where an imported chat came from (`hearth:<id>:<created_at>`, `chatgpt:<id>`), so importing
    the same file again finds the chats already here instead of doubling them."""
    _run(conn, ["ALTER TABLE conversations ADD COLUMN origin TEXT",
                "CREATE INDEX conversations_by_origin ON conversations(origin) WHERE origin IS NOT NULL"])


@migration
def m008_knowledge_collections(conn: sqlite3.Connection) -> None:
    """Knowledge collections: the files and folders a user named, each file's state (so an index
    resumes after a kill and re-reads only what changed), its chunks with where they came from,
    an FTS5 index over chunk text and one float32 vector per chunk. Deleting a collection or a
    file cascades down to its vectors; triggers keep the FTS index in step."""
    _run(
        conn,
        [
            """
            CREATE TABLE knowledge_collections (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE,
                embedder TEXT NOT NULL,
                dimension INTEGER NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )
            """,
            """
            CREATE TABLE knowledge_roots (
                collection_id INTEGER NOT NULL REFERENCES knowledge_collections(id) ON DELETE CASCADE,
                path TEXT NOT NULL,
                added_at REAL NOT NULL,
                PRIMARY KEY (collection_id, path)
            )
            """,
            """
            CREATE TABLE knowledge_sources (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                collection_id INTEGER NOT NULL REFERENCES knowledge_collections(id) ON DELETE CASCADE,
                path TEXT NOT NULL,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                sha256 TEXT,
                state TEXT NOT NULL CHECK (state IN ('indexed', 'failed')),
                reason TEXT,
                kind TEXT,
                chars INTEGER NOT NULL DEFAULT 0,
                chunks INTEGER NOT NULL DEFAULT 0,
                indexed_at REAL NOT NULL,
                UNIQUE (collection_id, path)
            )
            """,
            """
            CREATE TABLE knowledge_chunks (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                source_id INTEGER NOT NULL REFERENCES knowledge_sources(id) ON DELETE CASCADE,
                collection_id INTEGER NOT NULL,
                ordinal INTEGER NOT NULL,
                text TEXT NOT NULL,
                context TEXT NOT NULL DEFAULT '',
                location TEXT NOT NULL DEFAULT '',
                start INTEGER NOT NULL,
                end INTEGER NOT NULL,
                UNIQUE (source_id, ordinal)
            )
            """,
            "CREATE INDEX knowledge_chunks_by_collection ON knowledge_chunks(collection_id)",
            """
            CREATE VIRTUAL TABLE knowledge_fts USING fts5(
                text,
                context,
                content='knowledge_chunks',
                content_rowid='id',
                tokenize='porter unicode61 remove_diacritics 2'
            )
            """,
            """
            CREATE TRIGGER knowledge_fts_after_insert AFTER INSERT ON knowledge_chunks BEGIN
                INSERT INTO knowledge_fts(rowid, text, context) VALUES (new.id, new.text, new.context);
            END
            """,
            """
            CREATE TRIGGER knowledge_fts_after_delete AFTER DELETE ON knowledge_chunks BEGIN
                INSERT INTO knowledge_fts(knowledge_fts, rowid, text, context)
                VALUES ('delete', old.id, old.text, old.context);
            END
            """,
            """
            CREATE TABLE knowledge_vectors (
                chunk_id INTEGER PRIMARY KEY REFERENCES knowledge_chunks(id) ON DELETE CASCADE,
                collection_id INTEGER NOT NULL,
                vector BLOB NOT NULL
            )
            """,
            "CREATE INDEX knowledge_vectors_by_collection ON knowledge_vectors(collection_id)",
        ],
    )


@migration
def m009_assistants_and_answer_sources(conn: sqlite3.Connection) -> None:
    """Assistants (instructions, model, sampling, tools, think level, knowledge collections; a
    deleted one is kept until purged so Undo can bring it back, and its name is free meanwhile),
    the assistant a chat was started with (a purged one leaves the chat plain), and the passages
    each answer was given to cite, numbered as the prompt numbered them."""
    _run(
        conn,
        [
            """
            CREATE TABLE assistants (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                instructions TEXT NOT NULL DEFAULT '',
                model TEXT NOT NULL DEFAULT '',
                temperature REAL,
                top_p REAL,
                max_tokens INTEGER,
                tools_json TEXT,
                think TEXT NOT NULL DEFAULT '',
                knowledge_json TEXT NOT NULL DEFAULT '[]',
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                deleted_at REAL
            )
            """,
            "CREATE UNIQUE INDEX assistants_by_name ON assistants(name COLLATE NOCASE) WHERE deleted_at IS NULL",
            "ALTER TABLE conversations ADD COLUMN assistant_id INTEGER REFERENCES assistants(id) ON DELETE SET NULL",
            "CREATE INDEX conversations_by_assistant ON conversations(assistant_id) WHERE assistant_id IS NOT NULL",
            """
            CREATE TABLE answer_sources (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                number INTEGER NOT NULL,
                collection TEXT NOT NULL DEFAULT '',
                path TEXT NOT NULL,
                location TEXT NOT NULL DEFAULT '',
                start INTEGER NOT NULL,
                end INTEGER NOT NULL,
                passage TEXT NOT NULL,
                UNIQUE (message_id, number)
            )
            """,
        ],
    )


@migration
def m010_version_sources(conn: sqlite3.Connection) -> None:
    """An answer set aside by Regenerate keeps the sources it cited: shown again, its [1] and [2]
    point at its own passages, not at the newer answer's."""
    _run(conn, ["ALTER TABLE answer_versions ADD COLUMN sources_json TEXT"])
