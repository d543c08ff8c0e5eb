"""Opening a damaged chat history without losing it.

A file that is not a database, or fails SQLite's quick_check, is moved aside (with its -wal
and -shm) as `<name>.corrupt-<timestamp>` and never modified again. Hearth starts a fresh
database and copies into it every row it can still read from a scratch copy of the damaged
file: first row by row through SQLite itself (skipping unreadable ranges), then whatever the
`sqlite3` command-line tool's `.recover` finds on top (when that tool is installed).
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .records import ROLES, STATES, TOOL_STATES, RecoveryReport, StoreCorruptError, StoreError

if TYPE_CHECKING:
    from .database import Store

log = logging.getLogger(__name__)

SIDE_FILES = ("-wal", "-shm")
CLI_TIMEOUT_S = 120
MAX_UNREADABLE_IDS = 100_000  # how far past an unreadable stretch of ids we keep probing
UNKNOWN_END_PROBES = 2_000  # how far to probe when the largest id cannot be read either
PROBE_SECONDS = 10.0  # per table: a badly damaged file must not hold up the app's start for long

CONVERSATION_FIELDS = ("id", "title", "system_prompt", "settings_json", "created_at", "updated_at", "deleted_at", "origin",
                       "assistant_id")
MESSAGE_FIELDS = (
    "id", "conversation_id", "role", "content", "model", "state", "error", "prompt_tokens",
    "completion_tokens", "prompt_ms", "decode_ms", "tokens_per_second", "created_at", "updated_at",
)  # fmt: skip
ATTACHMENT_FIELDS = ("id", "message_id", "sha256", "mime", "path", "width", "height", "bytes")
VERSION_FIELDS = (
    "id", "question_id", "number", "content", "state", "model", "error", "prompt_tokens", "completion_tokens",
    "prompt_ms", "decode_ms", "tokens_per_second", "created_at", "sources_json",
)  # fmt: skip
TOOL_STEP_FIELDS = (
    "id", "message_id", "round", "call_id", "name", "arguments", "preamble", "state", "approval", "result", "ok",
    "elapsed_s", "created_at", "updated_at",
)  # fmt: skip
THINKING_FIELDS = ("message_id", "text", "seconds", "tokens", "updated_at")  # message_id is the rowid
ASSISTANT_FIELDS = (
    "id", "name", "instructions", "model", "temperature", "top_p", "max_tokens", "tools_json", "think",
    "knowledge_json", "created_at", "updated_at", "deleted_at",
)  # fmt: skip
SOURCE_FIELDS = ("id", "message_id", "number", "collection", "path", "location", "start", "end", "passage")
TABLES = {"conversations": CONVERSATION_FIELDS, "messages": MESSAGE_FIELDS, "attachments": ATTACHMENT_FIELDS,
          "answer_versions": VERSION_FIELDS, "tool_steps": TOOL_STEP_FIELDS, "message_thinking": THINKING_FIELDS,
          "assistants": ASSISTANT_FIELDS, "answer_sources": SOURCE_FIELDS}


def open_or_recover(store_class: type["Store"], path: Path) -> tuple["Store", RecoveryReport | None]:
    if not path.exists() or _looks_healthy(path):
        try:
            return store_class(path), None
        except StoreCorruptError as error:  # damage the quick check did not reach
            log.warning("chat history damaged at open: %s", error)
    backup = move_aside(path)
    store = store_class(path)
    try:
        conversations, messages = salvage(backup, store)
    except Exception:  # a salvage bug must not cost the user a working app; the copy is kept
        log.exception("salvaging %s failed", backup)
        conversations, messages = 0, 0
    return store, RecoveryReport(backup, conversations, messages, _report_message(backup, conversations, messages))


def _looks_healthy(path: Path) -> bool:
    """SQLite opens the file and quick_check says "ok".

    Read-only on purpose: a read-write connection to a damaged file may checkpoint its WAL
    into it, or delete the -wal and -shm files when it closes, and the copy we keep must
    be exactly what was on disk.
    """
    if not has_sqlite_header(path):
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as error:
        raise StoreError(f"Hearth cannot open its chat history {path}: {error}.") from error
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        return [tuple(row) for row in rows] == [("ok",)]
    except sqlite3.DatabaseError as error:
        code = getattr(error, "sqlite_errorcode", 0) & 0xFF
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_IOERR):
            raise StoreError(f"Hearth cannot read its chat history {path}: {error}. Nothing was changed.") from error
        log.warning("chat history %s is damaged: %s", path, error)
        return False
    finally:
        conn.close()


def has_sqlite_header(path: Path) -> bool:
    """Whether the file starts like an SQLite database (an empty file is a new, empty one)."""
    try:
        with open(path, "rb") as file:
            head = file.read(16)
    except FileNotFoundError:
        return True
    except OSError as error:
        raise StoreError(f"Hearth cannot read its chat history {path}: {error}.") from error
    return head in (b"", b"SQLite format 3\x00")


def move_aside(path: Path) -> Path:
    """Rename the damaged file and its -wal/-shm to `<name>.corrupt-<timestamp>`; return the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while any(Path(f"{backup}{suffix}").exists() for suffix in ("", *SIDE_FILES)):
        counter += 1
        backup = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    try:
        os.replace(path, backup)
        for suffix in SIDE_FILES:
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.replace(side, f"{backup}{suffix}")
    except OSError as error:
        raise StoreError(
            f"Hearth's chat history {path} is damaged and could not be set aside ({error}). "
            "Nothing was deleted; free some space or check the folder's permissions and restart Hearth."
        ) from error
    return backup


def salvage(backup: Path, store: "Store") -> tuple[int, int]:
    """Copy every readable row of `backup` into `store`; return (conversations, messages) recovered."""
    with tempfile.TemporaryDirectory(prefix="hearth-recover-") as scratch_dir:
        scratch = Path(scratch_dir)
        copy = scratch / "damaged.sqlite3"
        shutil.copyfile(backup, copy)
        _drop_partial_page(copy)
        wal = Path(f"{backup}-wal")
        if wal.exists():
            shutil.copyfile(wal, f"{copy}-wal")
        rows: dict[str, dict[int, dict[str, Any]]] = {table: {} for table in TABLES}
        for table, fields in TABLES.items():
            for row in read_tolerantly(copy, table, fields):
                rows[table].setdefault(row["id"], row)
        if not rows["messages"]:  # the schema itself may be unreadable: read the tables through a known one
            grafted = graft_known_schema(backup, scratch / "grafted.sqlite3", scratch / "template.sqlite3")
            if grafted is not None:
                for table, fields in TABLES.items():
                    for row in read_tolerantly(grafted, table, fields):
                        rows[table].setdefault(row["id"], row)
        recovered = recover_with_cli(copy, scratch / "recovered.sqlite3")
        if recovered is not None:
            for table, fields in TABLES.items():
                for row in read_tolerantly(recovered, table, fields):
                    rows[table].setdefault(row["id"], row)
            for table, row in read_lost_and_found(recovered):
                rows[table].setdefault(row["id"], row)
        return _import(store, rows)


def read_tolerantly(db: Path, table: str, fields: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Rows of `table` in rowid order (each keyed by its rowid under "id"), stepping over ranges
    whose pages cannot be read. A field an older schema lacks reads as None.

    `db` must be a scratch copy: the connection may replay and checkpoint its WAL.
    """
    try:
        conn = sqlite3.connect(str(db), isolation_level=None)
    except sqlite3.Error:
        return
    try:
        # Lets SQLite read a file shorter than its header claims (a truncated copy).
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("PRAGMA cell_size_check = ON")
        present = _columns(conn, table)
        fields = tuple(f for f in fields if f in present) if present else fields
        columns = ", ".join(("rowid", *fields))
        conn.execute(f"SELECT {columns} FROM {table} LIMIT 0")  # schema unreadable or no such table: nothing to do
        highest = _highest_id(conn, table)
        deadline = time.monotonic() + PROBE_SECONDS
        last_id = -(2**63)
        while True:
            try:
                for values in conn.execute(f"SELECT {columns} FROM {table} WHERE rowid > ? ORDER BY rowid", (last_id,)):
                    last_id = values[0]
                    yield {"id": values[0], **dict(zip(fields, values[1:]))}
                return
            except sqlite3.DatabaseError:
                pass
            # Unreadable stretch after last_id: probe ids one by one until SQLite reads again.
            start = max(last_id, 0)
            stop = start + UNKNOWN_END_PROBES if highest is None else min(highest, start + MAX_UNREADABLE_IDS)
            for candidate in range(start + 1, stop + 1):
                if time.monotonic() > deadline:
                    return
                try:
                    values = conn.execute(f"SELECT {columns} FROM {table} WHERE rowid = ?", (candidate,)).fetchone()
                except sqlite3.DatabaseError:
                    continue
                last_id = candidate
                if values is not None:
                    yield {"id": values[0], **dict(zip(fields, values[1:]))}
                break
            else:
                return
    except sqlite3.Error:
        return
    finally:
        conn.close()


def _highest_id(conn: sqlite3.Connection, table: str) -> int | None:
    """The largest id ever handed out, if any record of it is still readable."""
    candidates = []
    for sql, params in (
        ("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)),
        (f"SELECT max(rowid) FROM {table}", ()),
    ):
        try:
            row = conn.execute(sql, params).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row and isinstance(row[0], int):
            candidates.append(row[0])
    return max(candidates) if candidates else None


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """The table's columns as its schema says (empty when the schema cannot be read)."""
    try:
        return {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
    except sqlite3.DatabaseError:
        return set()


def _page_size(header: bytes) -> int:
    size = int.from_bytes(header[16:18], "big") if len(header) >= 18 else 0
    size = 65536 if size == 1 else size
    return size if 512 <= size <= 65536 and not size & (size - 1) else 4096


def _drop_partial_page(db: Path) -> None:
    """Cut a truncated copy back to whole pages: SQLite would read a cut page as zero-filled
    and hand back messages with their ends replaced by NUL characters."""
    with open(db, "rb") as file:
        page_size = _page_size(file.read(100))
    size = db.stat().st_size
    if size % page_size:
        os.truncate(db, size - size % page_size)


def graft_known_schema(damaged: Path, target: Path, template: Path) -> Path | None:
    """A copy of `damaged` whose first page comes from a fresh database built by migration 1.

    Every Hearth database starts with migration 1 on an empty file, so its tables always sit
    at the same root pages (conversations 2, sqlite_sequence 3, messages 4, attachments 5).
    When page 1 (the header and the schema) is damaged, or the schema spilled onto a page
    that was lost, a known-good page 1 lets SQLite find those tables again.
    """
    from .migrations import MIGRATIONS

    try:
        data = bytearray(damaged.read_bytes())
        page_size = _page_size(bytes(data[:100]))
        conn = sqlite3.connect(str(template), isolation_level=None)
        try:
            conn.execute(f"PRAGMA page_size = {page_size:d}")
            conn.execute("BEGIN")
            MIGRATIONS[0](conn)
            conn.execute("COMMIT")
        finally:
            conn.close()
        first_page = bytearray(template.read_bytes()[:page_size])
        del data[len(data) // page_size * page_size :]  # a partly missing page is not trusted at all
        if len(data) < page_size:
            return None
        first_page[28:32] = (len(data) // page_size).to_bytes(4, "big")  # trust the file's real length
        data[:page_size] = first_page
        target.write_bytes(bytes(data))
    except (OSError, sqlite3.Error) as error:
        log.warning("could not graft a known schema: %s", error)
        return None
    return target


def recover_with_cli(db: Path, target: Path) -> Path | None:
    """Run `sqlite3 db .recover` into `target`; None when the tool is missing or fails."""
    cli = _sqlite3_cli()
    if cli is None:
        return None
    try:
        dump = subprocess.run(
            [cli, str(db), ".recover --ignore-freelist"], capture_output=True, timeout=CLI_TIMEOUT_S, check=False
        )
        if not dump.stdout:
            return None
        # Load with the CLI too: unlike executescript it goes on past a failing statement.
        subprocess.run([cli, str(target)], input=dump.stdout, capture_output=True, timeout=CLI_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("sqlite3 .recover failed: %s", error)
        return None
    return target if target.exists() else None


def _sqlite3_cli() -> str | None:
    return shutil.which("sqlite3")


def read_lost_and_found(db: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rows `.recover` found but could not place in a table, recognised by their shape."""
    try:
        conn = sqlite3.connect(str(db), isolation_level=None)
    except sqlite3.Error:
        return
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE name LIKE 'lost_and_found%'")]
        for name in tables:
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')]
            for values in conn.execute(f'SELECT * FROM "{name}"'):
                record = dict(zip(columns, values))
                guess = _guess_table(record)
                if guess is not None:
                    yield guess
    except sqlite3.Error:
        return
    finally:
        conn.close()


def _guess_table(record: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    rowid = record.get("id")
    if not isinstance(rowid, int):
        return None
    for table, fields in TABLES.items():
        # Rows written before later columns were added: conversations' origin and assistant, versions' sources.
        older = ({len(fields) - 2, len(fields) - 1} if table == "conversations"
                 else {len(fields) - 1} if table == "answer_versions" else set())
        if record.get("nfield") not in {len(fields), *older}:
            continue
        row = {field: record.get(f"c{index}") for index, field in enumerate(fields)}
        row["id"] = rowid  # INTEGER PRIMARY KEY lives in the rowid; c0 is NULL
        if table == "messages" and row["role"] in ROLES and isinstance(row["content"], (str, bytes)):
            return table, row
        if table == "conversations" and isinstance(row["title"], str) and _number(row["created_at"]) is not None:
            return table, row
        if table == "attachments" and isinstance(row["sha256"], str) and isinstance(row["path"], str):
            return table, row
        if table == "answer_versions" and isinstance(row["number"], int) and row["state"] in STATES:
            return table, row
        if table == "tool_steps" and row["state"] in TOOL_STATES and isinstance(row["call_id"], str):
            return table, row
        if table == "message_thinking" and isinstance(row["text"], str) and _number(row["updated_at"]) is not None:
            return table, row
    return None


def _import(store: "Store", rows: dict[str, dict[int, dict[str, Any]]]) -> tuple[int, int]:
    now = time.time()
    messages = [m for m in (_clean_message(raw, now) for raw in rows["messages"].values()) if m is not None]
    assistants = [a for a in (_clean_assistant(raw, now) for raw in rows["assistants"].values()) if a is not None]
    assistant_ids = {a["id"] for a in assistants}
    conversations = {c["id"]: c for c in (_clean_conversation(raw, now, assistant_ids)
                                          for raw in rows["conversations"].values()) if c}
    for message in messages:  # a message whose conversation row was lost gets a placeholder one
        owner = conversations.get(message["conversation_id"])
        if owner is None:
            conversations[message["conversation_id"]] = owner = {
                "id": message["conversation_id"], "title": "Recovered chat", "system_prompt": "",
                "settings_json": "{}", "created_at": message["created_at"], "updated_at": message["created_at"],
                "deleted_at": None,
            }  # fmt: skip
        owner["updated_at"] = max(owner["updated_at"], message["created_at"])
    message_ids = {m["id"] for m in messages}
    attachments = [
        a for a in (_clean_attachment(raw) for raw in rows["attachments"].values()) if a and a["message_id"] in message_ids
    ]
    questions = {m["id"] for m in messages if m["role"] == "user"}
    versions = _renumber([v for v in (_clean_version(raw, now) for raw in rows["answer_versions"].values())
                          if v is not None and v["question_id"] in questions])
    steps = [t for t in (_clean_tool_step(raw, now) for raw in rows["tool_steps"].values())
             if t is not None and t["message_id"] in message_ids]
    thoughts = [t for t in (_clean_thinking(raw, now) for raw in rows["message_thinking"].values())
                if t is not None and t["message_id"] in message_ids]
    sources = [t for t in (_clean_source(raw) for raw in rows["answer_sources"].values())
               if t is not None and t["message_id"] in message_ids]
    with store._transaction("recover the chat history") as tx:
        for table, items in (("assistants", assistants), ("conversations", conversations.values()), ("messages", messages),
                             ("attachments", attachments), ("answer_versions", versions), ("tool_steps", steps),
                             ("message_thinking", thoughts), ("answer_sources", sources)):
            for item in sorted(items, key=lambda row: row.get("id", row.get("message_id"))):
                names = ", ".join(item)
                marks = ", ".join("?" * len(item))
                tx.execute(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})", tuple(item.values()))
    visible = [c for c in conversations.values() if c["deleted_at"] is None]
    visible_ids = {c["id"] for c in visible}
    return len(visible), sum(1 for m in messages if m["conversation_id"] in visible_ids)


def _clean_conversation(raw: dict[str, Any], now: float, assistant_ids: set[int]) -> dict[str, Any] | None:
    if not isinstance(raw.get("id"), int):
        return None
    created = _number(raw.get("created_at")) or now
    settings = _as_text(raw.get("settings_json")) or "{}"
    try:
        if not isinstance(json.loads(settings), dict):
            settings = "{}"
    except ValueError:
        settings = "{}"
    return {
        "id": raw["id"],
        "title": _as_text(raw.get("title")) or "Recovered chat",
        "system_prompt": _as_text(raw.get("system_prompt")) or "",
        "settings_json": settings,
        "created_at": created,
        "updated_at": _number(raw.get("updated_at")) or created,
        "deleted_at": _number(raw.get("deleted_at")),
        "origin": _as_text(raw.get("origin")),
        "assistant_id": raw.get("assistant_id") if raw.get("assistant_id") in assistant_ids else None,
    }


def _clean_message(raw: dict[str, Any], now: float) -> dict[str, Any] | None:
    if not isinstance(raw.get("id"), int) or not isinstance(raw.get("conversation_id"), int):
        return None
    if raw.get("role") not in ROLES:
        return None
    created = _number(raw.get("created_at")) or now
    return {
        "id": raw["id"],
        "conversation_id": raw["conversation_id"],
        "role": raw["role"],
        **_clean_text_and_figures(raw),
        "created_at": created,
        "updated_at": _number(raw.get("updated_at")) or created,
    }


def _clean_text_and_figures(raw: dict[str, Any]) -> dict[str, Any]:
    """What a message and a kept answer share: the words, how it ended, and its figures. An
    answer cut off mid-stream reads as interrupted."""
    state = raw.get("state")
    return {
        "content": _as_text(raw.get("content")) or "",
        "model": _as_text(raw.get("model")),
        "state": state if state in STATES and state != "streaming" else "interrupted",
        "error": _as_text(raw.get("error")),
        "prompt_tokens": _integer(raw.get("prompt_tokens")),
        "completion_tokens": _integer(raw.get("completion_tokens")),
        "prompt_ms": _number(raw.get("prompt_ms")),
        "decode_ms": _number(raw.get("decode_ms")),
        "tokens_per_second": _number(raw.get("tokens_per_second")),
    }


def _clean_tool_step(raw: dict[str, Any], now: float) -> dict[str, Any] | None:
    """A tool call as it was; one cut off mid-way (asked, or running) reads as stopped."""
    if not isinstance(raw.get("id"), int) or not isinstance(raw.get("message_id"), int):
        return None
    name, call_id = _as_text(raw.get("name")), _as_text(raw.get("call_id"))
    if not name or call_id is None:
        return None
    state = raw.get("state") if raw.get("state") in TOOL_STATES else "stopped"
    result = _as_text(raw.get("result"))
    if state in ("requested", "running"):
        state, result = "stopped", result or "Hearth stopped before this call finished."
    created = _number(raw.get("created_at")) or now
    return {
        "id": raw["id"], "message_id": raw["message_id"], "round": _integer(raw.get("round")) or 0,
        "call_id": call_id, "name": name, "arguments": _as_text(raw.get("arguments")) or "{}",
        "preamble": _as_text(raw.get("preamble")) or "", "state": state, "approval": _as_text(raw.get("approval")),
        "result": result, "ok": _integer(raw.get("ok")), "elapsed_s": _number(raw.get("elapsed_s")),
        "created_at": created, "updated_at": _number(raw.get("updated_at")) or created,
    }  # fmt: skip


def _clean_assistant(raw: dict[str, Any], now: float) -> dict[str, Any] | None:
    name = _as_text(raw.get("name"))
    if not isinstance(raw.get("id"), int) or not name:
        return None
    knowledge = _as_text(raw.get("knowledge_json")) or "[]"
    tools = _as_text(raw.get("tools_json"))
    for text in (knowledge, tools):
        try:
            if text is not None and not isinstance(json.loads(text), list):
                return None
        except ValueError:
            return None
    created = _number(raw.get("created_at")) or now
    return {
        "id": raw["id"], "name": name, "instructions": _as_text(raw.get("instructions")) or "",
        "model": _as_text(raw.get("model")) or "", "temperature": _number(raw.get("temperature")),
        "top_p": _number(raw.get("top_p")), "max_tokens": _integer(raw.get("max_tokens")), "tools_json": tools,
        "think": _as_text(raw.get("think")) or "", "knowledge_json": knowledge, "created_at": created,
        "updated_at": _number(raw.get("updated_at")) or created, "deleted_at": _number(raw.get("deleted_at")),
    }  # fmt: skip


def _clean_source(raw: dict[str, Any]) -> dict[str, Any] | None:
    row = {
        "id": raw.get("id"), "message_id": raw.get("message_id"), "number": _integer(raw.get("number")),
        "collection": _as_text(raw.get("collection")) or "", "path": _as_text(raw.get("path")),
        "location": _as_text(raw.get("location")) or "", "start": _integer(raw.get("start")),
        "end": _integer(raw.get("end")), "passage": _as_text(raw.get("passage")),
    }  # fmt: skip
    if any(row[k] is None for k in ("number", "path", "start", "end", "passage")):
        return None
    if not isinstance(row["id"], int) or not isinstance(row["message_id"], int):
        return None
    return row


def _clean_thinking(raw: dict[str, Any], now: float) -> dict[str, Any] | None:
    message_id = raw.get("message_id") if isinstance(raw.get("message_id"), int) else raw.get("id")
    text = _as_text(raw.get("text"))
    if not isinstance(message_id, int) or text is None:
        return None
    return {"message_id": message_id, "text": text, "seconds": _number(raw.get("seconds")),
            "tokens": _integer(raw.get("tokens")), "updated_at": _number(raw.get("updated_at")) or now}


def _clean_attachment(raw: dict[str, Any]) -> dict[str, Any] | None:
    row = {
        "id": raw.get("id"),
        "message_id": raw.get("message_id"),
        "sha256": _as_text(raw.get("sha256")),
        "mime": _as_text(raw.get("mime")),
        "path": _as_text(raw.get("path")),
        "width": _integer(raw.get("width")),
        "height": _integer(raw.get("height")),
        "bytes": _integer(raw.get("bytes")),
    }
    if any(value is None for value in row.values()) or not isinstance(row["id"], int) or not isinstance(row["message_id"], int):
        return None
    return row


def _clean_version(raw: dict[str, Any], now: float) -> dict[str, Any] | None:
    if not isinstance(raw.get("id"), int) or not isinstance(raw.get("question_id"), int):
        return None
    return {
        "id": raw["id"],
        "question_id": raw["question_id"],
        "number": _integer(raw.get("number")) or 0,
        **_clean_text_and_figures(raw),
        "created_at": _number(raw.get("created_at")) or now,
        "sources_json": _json_list(raw.get("sources_json")),
    }


def _json_list(value: Any) -> str | None:
    """A JSON array kept as text, or None when it is missing or unreadable."""
    text = _as_text(value)
    try:
        return text if text is not None and isinstance(json.loads(text), list) else None
    except ValueError:
        return None


def _renumber(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Numbers 1..k per question again, in their old order: with some lost, the answer on show
    takes k + 1 (the store reads the missing number as the one on show)."""
    by_question: dict[int, list[dict[str, Any]]] = {}
    for version in sorted(versions, key=lambda v: (v["number"], v["id"])):
        by_question.setdefault(version["question_id"], []).append(version)
    for kept in by_question.values():
        for number, version in enumerate(kept, start=1):
            version["number"] = number
    return [v for kept in by_question.values() for v in kept]


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _report_message(backup: Path, conversations: int, messages: int) -> str:
    if conversations or messages:
        return (
            "Hearth's chat history file was damaged, so Hearth started a fresh one and recovered "
            f"{_plural(conversations, 'conversation')} with {_plural(messages, 'message')} from it. "
            f"A copy of the damaged file was kept at {backup}."
        )
    return (
        "Hearth's chat history file was damaged and nothing could be read back from it, so Hearth "
        f"started a fresh one. A copy of the damaged file was kept at {backup} in case it can be repaired later."
    )
