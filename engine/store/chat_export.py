"""Chats out of the Store: read whole (versions, thinking, tool steps, attachment bytes) and
write as Hearth's JSON file, which `chat_import` brings back without losing anything.

Qt-free: the window's Export menu and `hearth chats export` call the same functions.
"""
from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

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
    native_origin,
)
from .answer_sources import sources_for
from .assistants import assistant_names
from .database import Store


@dataclass(frozen=True)
class ExportReport:
    path: Path
    conversations: int
    messages: int
    attachments: int
    missing_attachments: int  # files the history names but the attachments folder no longer has

    def summary(self) -> str:
        text = (f"Exported {_count(self.conversations, 'chat')} ({_count(self.messages, 'message')}, "
                f"{_count(self.attachments, 'attachment')}) to {self.path}")
        if self.missing_attachments:
            text += f"; {_count(self.missing_attachments, 'attachment file')} missing from the history"
        return text + "."


def read_chats(store: Store, attachments_dir: Path, conversation_ids: Iterable[int] | None = None) -> list[FileChat]:
    """The chats with everything they hold; all chats (oldest first) when `conversation_ids` is None.
    Raises ChatFileError naming an id that is not a chat here."""
    if conversation_ids is None:
        conversations = sorted(store.list_conversations(), key=lambda c: c.id)
    else:
        conversations = []
        for conversation_id in dict.fromkeys(conversation_ids):
            conversation = store.get_conversation(conversation_id)
            if conversation is None:
                raise ChatFileError(f"There is no chat {conversation_id} to export.")
            conversations.append(conversation)
    origins = store.conversation_origins([c.id for c in conversations])
    assistants = assistant_names(store, [c.id for c in conversations])
    chats = []
    for conversation in conversations:
        messages = store.messages(conversation.id)
        chats.append(FileChat(
            id=conversation.id,
            origin=origins.get(conversation.id) or native_origin(conversation.id, conversation.created_at),
            title=conversation.title,
            system_prompt=conversation.system_prompt,
            settings=conversation.settings,
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            messages=_file_messages(store, Path(attachments_dir), messages),
            assistant=assistants.get(conversation.id),
        ))
    return chats


def _file_messages(store: Store, attachments_dir: Path, messages: list) -> list[FileMessage]:
    ids = [m.id for m in messages]
    thinking = store.thinking_for(ids)
    steps = store.tool_steps_for(ids)
    attachments = store.attachments_for(ids)
    versions = store.answer_versions_for(ids)
    sources = sources_for(store, [m.id for m in messages if m.role == "assistant"])
    result = []
    for m in messages:
        thought = thinking.get(m.id)
        result.append(FileMessage(
            id=m.id, role=m.role, content=m.content, state=m.state, model=m.model, error=m.error,
            prompt_tokens=m.prompt_tokens, completion_tokens=m.completion_tokens, prompt_ms=m.prompt_ms,
            decode_ms=m.decode_ms, tokens_per_second=m.tokens_per_second,
            created_at=m.created_at, updated_at=m.updated_at,
            thinking=None if thought is None else FileThinking(thought.text, thought.seconds,
                                                               getattr(thought, "tokens", None)),
            tool_steps=[FileToolStep(s.round, s.call_id, s.name, s.arguments, s.preamble, s.state, s.approval,
                                     s.result, s.ok, s.elapsed_s) for s in steps.get(m.id, [])],
            attachments=[FileAttachment(a.sha256, a.mime, a.width, a.height, a.size,
                                        _read_attachment(attachments_dir, a.path)) for a in attachments.get(m.id, [])],
            versions=[FileVersion(v.number, v.content, v.state, v.model, v.error, v.prompt_tokens,
                                  v.completion_tokens, v.prompt_ms, v.decode_ms, v.tokens_per_second, v.created_at)
                      for v in versions.get(m.id, [])],
            sources=[FileSource(s.number, s.path, s.location, s.start, s.end, s.passage, s.collection)
                     for s in sources.get(m.id, [])],
        ))
    return result


def _read_attachment(attachments_dir: Path, relative: str) -> bytes | None:
    try:
        return (attachments_dir / relative).read_bytes()
    except OSError:
        return None  # gone from the folder: the export says so rather than failing every chat


def to_document(chats: list[FileChat]) -> dict[str, Any]:
    """The JSON document: chats with their messages, and each attachment's bytes once (base64,
    keyed by sha256) however many messages show it."""
    data: dict[str, str] = {}
    conversations = []
    for chat in chats:
        entry = asdict(chat)
        for message, raw in zip(chat.messages, entry["messages"]):
            for attachment, raw_attachment in zip(message.attachments, raw["attachments"]):
                del raw_attachment["data"]
                if attachment.data is not None:
                    data.setdefault(attachment.sha256, base64.b64encode(attachment.data).decode("ascii"))
        conversations.append(entry)
    return {"format": FORMAT, "version": VERSION, "conversations": conversations, "attachment_data": data}


def write_json_export(store: Store, attachments_dir: Path, out: Path,
                      conversation_ids: Iterable[int] | None = None) -> ExportReport:
    """Write the chats to `out` as one JSON file, replacing it only once it is whole."""
    chats = read_chats(store, attachments_dir, conversation_ids)
    document = to_document(chats)
    out = Path(out)
    try:
        write_atomically(out, json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"))
    except OSError as error:
        raise ChatFileError(f"Could not write {out}: {error.strerror or error}.") from error
    return report_for(out, chats)


def report_for(out: Path, chats: list[FileChat]) -> ExportReport:
    attachments = [a for chat in chats for m in chat.messages for a in m.attachments]
    return ExportReport(out, len(chats), sum(len(chat.messages) for chat in chats), len(attachments),
                        sum(1 for a in attachments if a.data is None))


def write_atomically(out: Path, data: bytes) -> None:
    """Replace `out` only once the new bytes are whole on disk: a failed export never leaves half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(name, out)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
