"""Chats into the Store from a file: Hearth's own JSON export (lossless) or ChatGPT's
conversations.json (the branch on show). The whole file is read and checked before anything is
saved, and everything is saved in one transaction: a bad file imports nothing.

A chat whose origin is already here (imported before, or exported from this very history) is
skipped and counted. Qt-free: the window's Import menu and `hearth chats import` share it.
"""
from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import json
import math
import re
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chat_file import (
    FORMAT,
    VERSION,
    ChatFileError,
    FileAttachment,
    FileChat,
    FileMessage,
    FileSource,
    FileThinking,
    FileToolStep,
    FileVersion,
    ShapeError,
    extension_for,
    native_origin,
)
from .chat_export import write_atomically
from .database import Store, _settings_json, _text
from .records import ROLES, STATES, TOOL_STATES

SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ImportReport:
    source: str  # "Hearth" or "ChatGPT"
    imported: int
    skipped: int  # already here
    messages: int
    attachments: int

    def summary(self) -> str:
        text = f"Imported {_count(self.imported, 'chat')} ({_count(self.messages, 'message')}"
        text += f", {_count(self.attachments, 'attachment')})" if self.attachments else ")"
        text += f" from a {self.source} export"
        if self.skipped:
            text += f"; skipped {_count(self.skipped, 'chat')} already here"
        return text + "."


def import_chats(store: Store, attachments_dir: Path, path: Path) -> ImportReport:
    """Read `path` (Hearth JSON, ChatGPT conversations.json, or ChatGPT's zip) and save its chats.
    Raises ChatFileError (one line) with nothing saved when the file cannot be used."""
    source, chats = read_chat_file(path)
    return save_chats(store, attachments_dir, chats, source=source)


def read_chat_file(path: Path) -> tuple[str, list[FileChat]]:
    """("Hearth" | "ChatGPT", the chats in it), every field checked."""
    path = Path(path)
    try:
        raw = _read_bytes(path)
        document = load_json(raw, path.name)
        if isinstance(document, dict) and document.get("format") == FORMAT:
            return "Hearth", parse_hearth(document, path.name)
        from .chatgpt_import import is_chatgpt_export, parse_chatgpt

        if is_chatgpt_export(document):
            return "ChatGPT", parse_chatgpt(document)
    except ShapeError as error:
        raise ChatFileError(f"{path.name} is not a chat export Hearth can read: {error}") from None
    raise ChatFileError(f"{path.name} is not a chat export Hearth can read (neither Hearth's JSON "
                        "export nor ChatGPT's conversations.json).")


def _read_bytes(path: Path) -> bytes:
    try:
        if zipfile.is_zipfile(path):  # ChatGPT's "Export data" arrives as a zip
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "conversations.json"]
                if not names:
                    raise ChatFileError(f"{path.name} is a zip without a conversations.json in it.")
                return archive.read(names[0])
        return path.read_bytes()
    except (OSError, zipfile.BadZipFile) as error:
        raise ChatFileError(f"Could not read {path}: {getattr(error, 'strerror', None) or error}.") from None


def load_json(raw: bytes, name: str) -> Any:
    """The JSON value in `raw`, or one line saying why there is none (junk, cut short, too deep)."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ChatFileError(f"{name} is not a chat export: it is not text (JSON in UTF-8).") from None
    if not text.strip():
        raise ChatFileError(f"{name} is empty.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
            raise ChatFileError(f"{name} ends too early: the file was cut short (JSON {error.msg.lower()} "
                                f"at line {error.lineno}).") from None
        raise ChatFileError(f"{name} is not a chat export: it is not valid JSON ({error.msg.lower()} at line "
                            f"{error.lineno}, column {error.colno}).") from None
    except RecursionError:
        raise ChatFileError(f"{name} is not a chat export: its JSON is nested too deeply.") from None


# ---------------------------------------------------------------- Hearth's own format

def parse_hearth(document: dict, name: str) -> list[FileChat]:
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ShapeError("its 'version' is missing or not a number.")
    if version > VERSION:
        raise ChatFileError(f"{name} was written by a newer Hearth (chat file version {version}; this Hearth "
                            f"reads version {VERSION}). Update Hearth to import it; nothing was imported.")
    if version < 1:
        raise ShapeError(f"its version {version} is unknown.")
    data = _attachment_data(document.get("attachment_data", {}))
    conversations = document.get("conversations")
    if not isinstance(conversations, list):
        raise ShapeError("'conversations' must be a list.")
    chats, chat_ids, message_ids = [], set(), set()
    for index, raw in enumerate(conversations):
        chat = _chat(_Fields(raw, f"conversation {index + 1}"), data)
        if _key(chat.id) in chat_ids:
            raise ShapeError(f"conversation id {chat.id!r} appears twice.")
        chat_ids.add(_key(chat.id))
        for message in chat.messages:
            if _key(message.id) in message_ids:
                raise ShapeError(f"message id {message.id!r} appears twice.")
            message_ids.add(_key(message.id))
        chats.append(chat)
    return chats


def _key(value: int | str) -> tuple[str, str]:
    return type(value).__name__, str(value)


def _attachment_data(raw: Any) -> dict[str, bytes]:
    if not isinstance(raw, dict):
        raise ShapeError("'attachment_data' must be an object of base64 keyed by sha256.")
    data = {}
    for sha, encoded in raw.items():
        if not SHA256.fullmatch(sha) or not isinstance(encoded, str):
            raise ShapeError(f"attachment_data entry {sha[:80]!r} is not a sha256 with base64 text.")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ShapeError(f"attachment {sha[:12]}… is not valid base64.") from None
        if hashlib.sha256(blob).hexdigest() != sha:
            raise ShapeError(f"attachment {sha[:12]}… does not match its sha256 (the file is damaged).")
        data[sha] = blob
    return data


def _chat(f: "_Fields", data: dict[str, bytes]) -> FileChat:
    chat_id = f.ident("id")
    created_at = f.number("created_at")
    settings = f.get("settings", {})
    if not isinstance(settings, dict):
        raise ShapeError(f"{f.where}: 'settings' must be an object.")
    messages = [_message(_Fields(raw, f"{f.where}, message {i + 1}"), data) for i, raw in enumerate(f.items("messages"))]
    return FileChat(
        id=chat_id,
        origin=f.text("origin", None) or native_origin(chat_id, created_at),
        title=f.text("title"), system_prompt=f.text("system_prompt", ""), settings=settings,
        created_at=created_at, updated_at=f.number("updated_at", created_at), messages=messages,
        assistant=f.text("assistant", None))


def _message(f: "_Fields", data: dict[str, bytes]) -> FileMessage:
    created_at = f.number("created_at")
    thinking = f.get("thinking")
    if thinking is not None:
        t = _Fields(thinking, f"{f.where}, thinking")
        thinking = FileThinking(t.text("text"), t.number("seconds", None), t.integer("tokens", None))
    return FileMessage(
        id=f.ident("id"), role=f.choice("role", ROLES), content=f.text("content"),
        state=f.choice("state", STATES, "complete"), model=f.text("model", None), error=f.text("error", None),
        prompt_tokens=f.integer("prompt_tokens", None), completion_tokens=f.integer("completion_tokens", None),
        prompt_ms=f.number("prompt_ms", None), decode_ms=f.number("decode_ms", None),
        tokens_per_second=f.number("tokens_per_second", None),
        created_at=created_at, updated_at=f.number("updated_at", created_at), thinking=thinking,
        tool_steps=[_tool_step(_Fields(raw, f"{f.where}, tool step {i + 1}")) for i, raw in enumerate(f.items("tool_steps"))],
        attachments=[_attachment(_Fields(raw, f"{f.where}, attachment {i + 1}"), data)
                     for i, raw in enumerate(f.items("attachments"))],
        versions=_versions(f),
        sources=_sources(f),
    )


def _tool_step(f: "_Fields") -> FileToolStep:
    ok = f.get("ok")
    if ok is not None and not isinstance(ok, bool):
        raise ShapeError(f"{f.where}: 'ok' must be true, false or null.")
    return FileToolStep(
        round=f.integer("round"), call_id=f.text("call_id"), name=f.text("name"), arguments=f.text("arguments"),
        preamble=f.text("preamble", ""), state=f.choice("state", TOOL_STATES), approval=f.text("approval", None),
        result=f.text("result", None), ok=ok, elapsed_s=f.number("elapsed_s", None))


def _attachment(f: "_Fields", data: dict[str, bytes]) -> FileAttachment:
    sha = f.text("sha256")
    if not SHA256.fullmatch(sha):
        raise ShapeError(f"{f.where}: 'sha256' must be 64 lowercase hex digits.")
    return FileAttachment(sha256=sha, mime=f.text("mime"), width=f.integer("width"), height=f.integer("height"),
                          size=f.integer("size"), data=data.get(sha))


def _versions(f: "_Fields") -> list[FileVersion]:
    versions = []
    for i, raw in enumerate(f.items("versions")):
        v = _Fields(raw, f"{f.where}, answer version {i + 1}")
        versions.append(FileVersion(
            number=v.integer("number"), content=v.text("content"), state=v.choice("state", STATES),
            model=v.text("model", None), error=v.text("error", None), prompt_tokens=v.integer("prompt_tokens", None),
            completion_tokens=v.integer("completion_tokens", None), prompt_ms=v.number("prompt_ms", None),
            decode_ms=v.number("decode_ms", None), tokens_per_second=v.number("tokens_per_second", None),
            created_at=v.number("created_at")))
    numbers = [v.number for v in versions]
    if len(set(numbers)) != len(numbers) or any(n < 1 for n in numbers):
        raise ShapeError(f"{f.where}: its answer versions need distinct numbers from 1 up.")
    return versions


def _sources(f: "_Fields") -> list[FileSource]:
    sources = []
    for i, raw in enumerate(f.items("sources")):
        s = _Fields(raw, f"{f.where}, source {i + 1}")
        sources.append(FileSource(
            number=s.integer("number"), path=s.text("path"), location=s.text("location", ""),
            start=s.integer("start"), end=s.integer("end"), passage=s.text("passage"),
            collection=s.text("collection", "")))
    numbers = [s.number for s in sources]
    if len(set(numbers)) != len(numbers) or any(n < 1 for n in numbers):
        raise ShapeError(f"{f.where}: its sources need distinct numbers from 1 up.")
    return sources


_REQUIRED = object()


class _Fields:
    """One JSON object read field by field; a wrong field is named with where it sits."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise ShapeError(f"{where} must be an object.")
        self.value, self.where = value, where

    def get(self, key: str, default: Any = None) -> Any:
        return self.value.get(key, default)

    def _field(self, key: str, default: Any, accept, kind: str) -> Any:
        if key not in self.value or (self.value[key] is None and default is not _REQUIRED):
            if default is _REQUIRED:
                raise ShapeError(f"{self.where} has no '{key}'.")
            return default
        value = self.value[key]
        if not accept(value):
            raise ShapeError(f"{self.where}: '{key}' must be {kind}.")
        return value

    def text(self, key: str, default: Any = _REQUIRED) -> Any:
        return self._field(key, default, lambda v: isinstance(v, str), "text")

    def integer(self, key: str, default: Any = _REQUIRED) -> Any:
        return self._field(key, default, lambda v: isinstance(v, int) and not isinstance(v, bool)
                           and abs(v) < 2 ** 63, "a whole number")

    def number(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._field(key, default, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                            and math.isfinite(v), "a number")
        return float(value) if isinstance(value, int) else value

    def ident(self, key: str) -> int | str:
        return self._field(key, _REQUIRED, lambda v: (isinstance(v, int) and not isinstance(v, bool))
                           or (isinstance(v, str) and v != ""), "a number or text")

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _REQUIRED) -> str:
        return self._field(key, default, lambda v: v in choices, f"one of {', '.join(choices)}")

    def items(self, key: str) -> list:
        return self._field(key, [], lambda v: isinstance(v, list), "a list")


# ---------------------------------------------------------------- saving

def save_chats(store: Store, attachments_dir: Path, chats: list[FileChat], *, source: str = "Hearth") -> ImportReport:
    """Save the chats not already here, all in one transaction; attachment files written for them
    are removed again if the transaction fails."""
    attachments_dir = Path(attachments_dir)
    written: list[Path] = []
    imported = skipped = messages = attachments = 0
    try:
        with store.import_transaction() as tx:
            present = _origins_here(tx)
            for chat in chats:
                if chat.origin in present:
                    skipped += 1
                    continue
                present.add(chat.origin)
                _insert_chat(tx, attachments_dir, chat, written)
                imported += 1
                messages += len(chat.messages)
                attachments += sum(len(m.attachments) for m in chat.messages)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return ImportReport(source, imported, skipped, messages, attachments)


def _origins_here(tx: sqlite3.Connection) -> set[str]:
    rows = tx.execute("SELECT id, created_at, origin FROM conversations WHERE deleted_at IS NULL")
    return {origin or native_origin(conversation_id, created_at) for conversation_id, created_at, origin in rows}


def _insert_chat(tx: sqlite3.Connection, attachments_dir: Path, chat: FileChat, written: list[Path]) -> None:
    conversation_id = tx.execute(
        "INSERT INTO conversations (title, system_prompt, settings_json, created_at, updated_at, origin, "
        "assistant_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (_text(chat.title), _text(chat.system_prompt), _settings_json(chat.settings), chat.created_at,
         chat.updated_at, _text(chat.origin), _assistant_here(tx, chat.assistant))).lastrowid
    for m in chat.messages:
        message_id = tx.execute(
            "INSERT INTO messages (conversation_id, role, content, model, state, error, prompt_tokens, "
            "completion_tokens, prompt_ms, decode_ms, tokens_per_second, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (conversation_id, m.role, _text(m.content), _maybe_text(m.model), m.state, _maybe_text(m.error),
             m.prompt_tokens, m.completion_tokens, m.prompt_ms, m.decode_ms, m.tokens_per_second,
             m.created_at, m.updated_at)).lastrowid
        if m.thinking is not None:
            tx.execute("INSERT INTO message_thinking (message_id, text, seconds, tokens, updated_at) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (message_id, _text(m.thinking.text), m.thinking.seconds, m.thinking.tokens, m.updated_at))
        for s in m.tool_steps:
            tx.execute(
                "INSERT INTO tool_steps (message_id, round, call_id, name, arguments, preamble, state, approval, "
                "result, ok, elapsed_s, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (message_id, s.round, _text(s.call_id), _text(s.name), _text(s.arguments), _text(s.preamble),
                 s.state, _maybe_text(s.approval), _maybe_text(s.result), None if s.ok is None else int(s.ok),
                 s.elapsed_s, m.created_at, m.updated_at))
        for a in m.attachments:
            relative = _keep_attachment(attachments_dir, a, written)
            tx.execute("INSERT INTO attachments (message_id, sha256, mime, path, width, height, bytes) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (message_id, a.sha256, _text(a.mime), relative, a.width, a.height, a.size))
        tx.executemany(
            "INSERT INTO answer_sources (message_id, number, collection, path, location, start, end, passage) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(message_id, s.number, _text(s.collection), _text(s.path), _text(s.location), s.start, s.end,
              _text(s.passage)) for s in m.sources])
        for v in m.versions:
            tx.execute(
                "INSERT INTO answer_versions (question_id, number, content, state, model, error, prompt_tokens, "
                "completion_tokens, prompt_ms, decode_ms, tokens_per_second, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (message_id, v.number, _text(v.content), v.state, _maybe_text(v.model), _maybe_text(v.error),
                 v.prompt_tokens, v.completion_tokens, v.prompt_ms, v.decode_ms, v.tokens_per_second, v.created_at))


def _keep_attachment(attachments_dir: Path, attachment: FileAttachment, written: list[Path]) -> str:
    """The attachment's file, named by its content as the image intake names it
    (`<sha[:2]>/<sha>.<ext>`, engine/vision/attachments.py); return its relative path."""
    relative = f"{attachment.sha256[:2]}/{attachment.sha256}.{extension_for(attachment.mime)}"
    data = attachment.data
    target = attachments_dir / relative
    if data is None or (target.is_file() and target.stat().st_size == len(data)):
        return relative  # already there (or missing at the source too: the row says what it was)
    existed = target.exists()
    write_atomically(target, data)
    if not existed:
        written.append(target)
    return relative


def _assistant_here(tx: sqlite3.Connection, name: str | None) -> int | None:
    """The chat answers as the assistant of that name here, if there is one (None: a plain chat)."""
    if not name:
        return None
    row = tx.execute("SELECT id FROM assistants WHERE name = ? AND deleted_at IS NULL", (_text(name),)).fetchone()
    return row[0] if row else None


def _maybe_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
