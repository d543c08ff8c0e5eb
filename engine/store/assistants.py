"""Assistants in the chat history: create, read, change, duplicate, delete with undo, and the
small JSON file they travel in; which assistant a chat was started with.

Like the knowledge tables, these functions borrow the Store's connection, lock and error
translation (`_transaction`, `_reading`): one WAL database, one writer, the same "disk is full"
messages. A deleted assistant is hidden, not gone, until `purge_deleted_assistants`: the window
offers Undo, and its name is free for a new one meanwhile (a restored one whose name was taken
comes back renamed). Chats of a deleted assistant answer as plain chats; Undo gives them back.
"""
from __future__ import annotations

import json
import math
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .database import SQLITE_PARAMETER_CHUNK, Store, _settings_json, _text
from .records import Assistant, AssistantFileError, Conversation, StoreError

FILE_FORMAT = "hearth-assistant"
FILE_VERSION = 1
MAX_FILE_BYTES = 1024 * 1024
MAX_NAME = 100
THINK_LEVELS = ("", "off", "short", "long", "unlimited")
EDITABLE = ("name", "instructions", "model", "temperature", "top_p", "max_tokens", "tools", "think", "knowledge")
COLUMNS = ("id, name, instructions, model, temperature, top_p, max_tokens, tools_json, think, knowledge_json, "
           "created_at, updated_at")
_SPACES = re.compile(r"\s+")


# ---------------------------------------------------------------- the assistants

def create_assistant(store: Store, name: str, **fields: Any) -> Assistant:
    """A new assistant; `fields` are any of Assistant's editable fields (instructions, model,
    temperature, top_p, max_tokens, tools, think, knowledge). Raises StoreError with a message
    for the user when the name is taken or a value is out of range."""
    values = _checked({"name": name, **fields})
    return _insert(store, values, "create the assistant")


def list_assistants(store: Store) -> list[Assistant]:
    """Every assistant not deleted, by name."""
    with store._reading("read the assistants") as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM assistants WHERE deleted_at IS NULL "
                            "ORDER BY name COLLATE NOCASE, id").fetchall()
    return [_assistant(row) for row in rows]


def get_assistant(store: Store, assistant_id: int) -> Assistant | None:
    """The assistant, or None when there is none with that id or it is deleted."""
    with store._reading("read the assistant") as conn:
        row = conn.execute(f"SELECT {COLUMNS} FROM assistants WHERE id = ? AND deleted_at IS NULL",
                           (assistant_id,)).fetchone()
    return _assistant(row) if row else None


def find_assistant(store: Store, name: str) -> Assistant | None:
    """The assistant called `name` (case does not matter), or None."""
    with store._reading("read the assistant") as conn:
        row = conn.execute(f"SELECT {COLUMNS} FROM assistants WHERE name = ? COLLATE NOCASE AND deleted_at IS NULL",
                           (_clean_name(name),)).fetchone()
    return _assistant(row) if row else None


def require_assistant(store: Store, name: str) -> Assistant:
    found = find_assistant(store, name)
    if found is None:
        raise StoreError(f"There is no assistant named {name!r}.")
    return found


def update_assistant(store: Store, assistant_id: int, **changes: Any) -> Assistant:
    """Change the given fields (None resets a sampling field, `tools`, to the default) and return
    the assistant as saved. Chats started with it follow the change from their next answer."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise TypeError(f"assistants have no field {unknown[0]!r}")
    current = get_assistant(store, assistant_id)
    if current is None:
        raise StoreError("That assistant no longer exists.")
    values = _checked({**_editable(current), **changes})
    now = time.time()
    with store._transaction("save the assistant") as tx:
        _require_free(tx, values["name"], assistant_id)
        row = _row_values(values)
        columns = ", ".join(f"{column} = ?" for column in row)
        tx.execute(f"UPDATE assistants SET {columns}, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
                   (*row.values(), now, assistant_id))
    saved = get_assistant(store, assistant_id)
    if saved is None:
        raise StoreError("That assistant no longer exists.")
    return saved


def duplicate_assistant(store: Store, assistant_id: int) -> Assistant:
    """A copy named "Name (copy)" ("Name (copy 2)"… when that is taken), with every setting."""
    original = get_assistant(store, assistant_id)
    if original is None:
        raise StoreError("That assistant no longer exists.")
    return copy_assistant(store, original, name_pattern="{name} (copy)", more="{name} (copy {n})")


def copy_assistant(store: Store, assistant: Assistant, *, name_pattern: str = "{name}",
                   more: str = "{name} ({n})") -> Assistant:
    """`assistant`'s settings saved as a new assistant of `store` (another history, e.g. a
    throwaway one), under the first free name the patterns give."""
    values = _checked(_editable(assistant))
    with store._transaction("save the assistant") as tx:
        values["name"] = _free_name(tx, values["name"], name_pattern, more)
        return _insert_in(tx, values)


def delete_assistant(store: Store, assistant_id: int) -> None:
    """Hide the assistant; `restore_assistant` undoes it until `purge_deleted_assistants` runs."""
    with store._transaction("delete the assistant") as tx:
        tx.execute("UPDATE assistants SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
                   (time.time(), assistant_id))


def restore_assistant(store: Store, assistant_id: int) -> Assistant:
    """Undo a delete: the assistant comes back with its id (so its chats find it again), renamed
    "Name (2)" if a new assistant took its name meanwhile."""
    with store._transaction("restore the assistant") as tx:
        row = tx.execute("SELECT name, deleted_at FROM assistants WHERE id = ?", (assistant_id,)).fetchone()
        if row is None:
            raise StoreError("That assistant was deleted for good and cannot be restored.")
        if row[1] is not None:
            name = _free_name(tx, row[0], "{name}", "{name} ({n})")
            tx.execute("UPDATE assistants SET deleted_at = NULL, name = ? WHERE id = ?", (name, assistant_id))
    restored = get_assistant(store, assistant_id)
    assert restored is not None
    return restored


def purge_deleted_assistants(store: Store, assistant_ids: Iterable[int] | None = None) -> int:
    """Really delete deleted assistants (all, or those of `assistant_ids`); their chats become
    plain chats. Returns how many went."""
    with store._transaction("clean up deleted assistants") as tx:
        if assistant_ids is None:
            return int(tx.execute("DELETE FROM assistants WHERE deleted_at IS NOT NULL").rowcount)
        removed = 0
        for assistant_id in assistant_ids:
            removed += tx.execute("DELETE FROM assistants WHERE id = ? AND deleted_at IS NOT NULL",
                                  (int(assistant_id),)).rowcount
        return removed


# ---------------------------------------------------------------- chats and their assistant

def start_conversation(store: Store, assistant_id: int, *, title: str = "New chat", system_prompt: str = "",
                       settings: dict | None = None) -> Conversation:
    """A new chat that answers as the assistant (its own `system_prompt` and `settings`, if any,
    come on top of the assistant's)."""
    now = time.time()
    settings_json = _settings_json(settings)
    with store._transaction("create a conversation") as tx:
        _require_live(tx, assistant_id)
        cursor = tx.execute(
            "INSERT INTO conversations (title, system_prompt, settings_json, created_at, updated_at, assistant_id) "
            "VALUES (?, ?, ?, ?, ?, ?)", (_text(title), _text(system_prompt), settings_json, now, now, assistant_id))
        conversation_id = int(cursor.lastrowid)
    return Conversation(conversation_id, _text(title), _text(system_prompt), json.loads(settings_json), now, now)


def set_conversation_assistant(store: Store, conversation_id: int, assistant_id: int | None) -> None:
    """Answer as another assistant from the chat's next answer on (None: as a plain chat)."""
    with store._transaction("save the chat's assistant") as tx:
        if assistant_id is not None:
            _require_live(tx, assistant_id)
        tx.execute("UPDATE conversations SET assistant_id = ? WHERE id = ?", (assistant_id, conversation_id))


def conversation_assistant(store: Store, conversation_id: int) -> Assistant | None:
    """The assistant the chat answers as; None for a plain chat or one whose assistant is deleted."""
    with store._reading("read the chat's assistant") as conn:
        row = conn.execute(
            f"SELECT {', '.join('a.' + c.strip() for c in COLUMNS.split(','))} FROM conversations AS c "
            "JOIN assistants AS a ON a.id = c.assistant_id WHERE c.id = ? AND a.deleted_at IS NULL",
            (conversation_id,)).fetchone()
    return _assistant(row) if row else None


def assistant_names(store: Store, conversation_ids: Sequence[int]) -> dict[int, str]:
    """For the chat list: the assistant each chat answers as (plain chats are left out)."""
    found: dict[int, str] = {}
    ids = [int(i) for i in conversation_ids]
    with store._reading("read the chats' assistants") as conn:
        for start in range(0, len(ids), SQLITE_PARAMETER_CHUNK):
            chunk = ids[start:start + SQLITE_PARAMETER_CHUNK]
            found.update(conn.execute(
                "SELECT c.id, a.name FROM conversations AS c JOIN assistants AS a ON a.id = c.assistant_id "
                f"WHERE a.deleted_at IS NULL AND c.id IN ({','.join('?' * len(chunk))})", chunk).fetchall())
    return found


# ---------------------------------------------------------------- the file

def assistant_document(assistant: Assistant) -> dict[str, Any]:
    """The assistant as its file holds it: its settings, never its id or dates."""
    values = _editable(assistant)
    values["tools"] = None if assistant.tools is None else list(assistant.tools)
    values["knowledge"] = list(assistant.knowledge)
    return {"format": FILE_FORMAT, "version": FILE_VERSION, **values}


def export_assistant(store: Store, assistant_id: int, out: Path) -> Path:
    """Write the assistant to `out` as a small JSON file, replacing it only once it is whole."""
    from .chat_export import write_atomically

    assistant = get_assistant(store, assistant_id)
    if assistant is None:
        raise StoreError("That assistant no longer exists.")
    out = Path(out)
    try:
        write_atomically(out, (json.dumps(assistant_document(assistant), ensure_ascii=False, indent=2) + "\n")
                         .encode("utf-8"))
    except OSError as error:
        raise AssistantFileError(f"Could not write {out}: {error.strerror or error}.") from error
    return out


def read_assistant_file(path: Path) -> dict[str, Any]:
    """The checked settings of an assistant file (as create_assistant takes them). Raises
    AssistantFileError, one line naming the file and what is wrong with it."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise AssistantFileError(f"{path} is too large to be a Hearth assistant file.")
        raw = path.read_bytes()
    except OSError as error:
        raise AssistantFileError(f"Could not read {path}: {error.strerror or error}.") from error
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise AssistantFileError(f"{path} is not a Hearth assistant file (it is not text).") from None
    except ValueError as error:
        raise AssistantFileError(f"{path} is not a Hearth assistant file (not JSON: {error.msg}, line {error.lineno})."
                                 ) from None
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise AssistantFileError(f'{path} is not a Hearth assistant file (no "format": "{FILE_FORMAT}").')
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise AssistantFileError(f'{path} has no valid "version" (expected a whole number).')
    if version > FILE_VERSION:
        raise AssistantFileError(f"{path} was written by a newer Hearth (assistant file version {version}; "
                                 f"this one reads up to {FILE_VERSION}). Update Hearth to import it.")
    if "name" not in document:
        raise AssistantFileError(f'{path} has no "name".')
    try:
        return _checked({key: document[key] for key in EDITABLE if key in document})
    except StoreError as error:
        raise AssistantFileError(f"{path}: {error}") from None


def import_assistant(store: Store, path: Path, *, name: str | None = None) -> Assistant:
    """Save the assistant in `path` (as `name`, if given); a name already taken gets " (2)"…
    Nothing is saved unless the whole file is good."""
    values = read_assistant_file(path)
    if name is not None:
        values["name"] = _clean_name(name)
    with store._transaction("import the assistant") as tx:
        values["name"] = _free_name(tx, values["name"], "{name}", "{name} ({n})")
        return _insert_in(tx, values)


# ---------------------------------------------------------------- checks and rows

def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """Editable fields as the table stores them, each checked; StoreError names the first bad one."""
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise TypeError(f"assistants have no field {unknown[0]!r}")
    out: dict[str, Any] = {"name": _clean_name(values.get("name"))}
    out["instructions"] = _string(values.get("instructions", ""), "instructions")
    out["model"] = _string(values.get("model", ""), "model").strip()
    out["temperature"] = _number(values.get("temperature"), "temperature", 0.0, 2.0)
    out["top_p"] = _number(values.get("top_p"), "top_p", 0.0, 1.0, open_low=True)
    out["max_tokens"] = _whole(values.get("max_tokens"), "max_tokens", 1, 1_000_000)
    tools = values.get("tools")
    out["tools"] = None if tools is None else _names(tools, "tools")
    think = _string(values.get("think", ""), "think").strip().lower()
    if think not in THINK_LEVELS:
        raise StoreError(f"'think' must be off, short, long or unlimited (or empty for the default), not {think!r}.")
    out["think"] = think
    out["knowledge"] = _names(values.get("knowledge", ()), "knowledge")
    return out


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise StoreError("An assistant needs a name.")
    cleaned = _SPACES.sub(" ", _text(name)).strip()
    if len(cleaned) > MAX_NAME:
        raise StoreError(f"An assistant's name can be at most {MAX_NAME} characters.")
    return cleaned


def _string(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise StoreError(f"'{field}' must be text.")
    return _text(value)


def _number(value: object, field: str, low: float, high: float, *, open_low: bool = False) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not (low < value <= high if open_low else low <= value <= high):
        bounds = f"above {low:g} and at most {high:g}" if open_low else f"from {low:g} to {high:g}"
        raise StoreError(f"'{field}' must be a number {bounds} (or empty for the default).")
    return float(value)


def _whole(value: object, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StoreError(f"'{field}' must be a whole number from {low} to {high} (or empty for the default).")
    return int(value)


def _names(value: object, field: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise StoreError(f"'{field}' must be a list of names.")
    names: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or "," in item:
            raise StoreError(f"'{field}' must be a list of names (without commas).")
        names.append(_text(item.strip()))
    return tuple(dict.fromkeys(names))


def _editable(assistant: Assistant) -> dict[str, Any]:
    return {key: getattr(assistant, key) for key in EDITABLE}


def _row_values(values: dict[str, Any]) -> dict[str, Any]:
    row = dict(values)
    tools = row.pop("tools")
    row["tools_json"] = None if tools is None else json.dumps(list(tools), ensure_ascii=False)
    row["knowledge_json"] = json.dumps(list(row.pop("knowledge")), ensure_ascii=False)
    return row


def _insert(store: Store, values: dict[str, Any], doing: str) -> Assistant:
    with store._transaction(doing) as tx:
        _require_free(tx, values["name"], None)
        return _insert_in(tx, values)


def _insert_in(tx: sqlite3.Connection, values: dict[str, Any]) -> Assistant:
    row = _row_values(values)
    now = time.time()
    cursor = tx.execute(f"INSERT INTO assistants ({', '.join(row)}, created_at, updated_at) "
                        f"VALUES ({', '.join('?' * len(row))}, ?, ?)", (*row.values(), now, now))
    return Assistant(id=int(cursor.lastrowid), **values, created_at=now, updated_at=now)


def _require_free(tx: sqlite3.Connection, name: str, assistant_id: int | None) -> None:
    taken = tx.execute("SELECT id FROM assistants WHERE name = ? COLLATE NOCASE AND deleted_at IS NULL",
                       (name,)).fetchone()
    if taken is not None and taken[0] != assistant_id:
        raise StoreError(f"There is already an assistant named {name!r}.")


def _require_live(tx: sqlite3.Connection, assistant_id: int) -> None:
    if tx.execute("SELECT 1 FROM assistants WHERE id = ? AND deleted_at IS NULL", (assistant_id,)).fetchone() is None:
        raise StoreError("That assistant no longer exists.")


def _free_name(tx: sqlite3.Connection, name: str, first: str, more: str) -> str:
    """The first of first.format(name), more.format(name, n=2), n=3… that no live assistant has
    (the name shortened where the suffix would make it too long)."""

    def fitted(pattern: str, n: int = 0) -> str:
        text = pattern.format(name=name, n=n)
        over = len(text) - MAX_NAME
        return pattern.format(name=name[:len(name) - over].rstrip(), n=n) if over > 0 else text

    candidate, n = fitted(first), 2
    while tx.execute("SELECT 1 FROM assistants WHERE name = ? COLLATE NOCASE AND deleted_at IS NULL",
                     (candidate,)).fetchone() is not None:
        candidate, n = fitted(more, n), n + 1
    return candidate


def _assistant(row: tuple) -> Assistant:
    (assistant_id, name, instructions, model, temperature, top_p, max_tokens, tools_json, think, knowledge_json,
     created_at, updated_at) = row
    return Assistant(assistant_id, name, instructions, model, temperature, top_p, max_tokens,
                     None if tools_json is None else _stored_names(tools_json), think,
                     _stored_names(knowledge_json), created_at, updated_at)


def _stored_names(text: str) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return ()
    return tuple(str(item) for item in value) if isinstance(value, list) else ()
