"""The shapes of chats on their way out of Hearth or in: plain data between the Store and a file.

Export reads the Store into these and writes them (JSON, markdown); import reads a file
(Hearth's JSON, ChatGPT's conversations.json) into these and saves them in one transaction.
One shape for both directions is what makes the round trip lossless. Fields added since version
1 (an answer's sources, a chat's assistant) are optional: older files import as they always did.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FORMAT = "hearth-chats"
VERSION = 1

# What an attachment's file is called, from its type (the intake writes PNG or JPEG).
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


class ChatFileError(Exception):
    """A chat file Hearth cannot read or write; str(error) is one line, fit to show the user.
    Raised before anything is saved: an import either saves every chat or none."""


def native_origin(conversation_id: int | str, created_at: float) -> str:
    """How a chat made in this history is known elsewhere: its id alone could be anybody's chat 3."""
    return f"hearth:{conversation_id}:{float(created_at)!r}"


def extension_for(mime: str) -> str:
    return EXTENSIONS.get(mime, "bin")


@dataclass
class FileAttachment:
    sha256: str
    mime: str
    width: int
    height: int
    size: int
    data: bytes | None  # None: the file was already missing from the history that exported it


@dataclass
class FileToolStep:
    round: int
    call_id: str
    name: str
    arguments: str
    preamble: str
    state: str
    approval: str | None
    result: str | None
    ok: bool | None
    elapsed_s: float | None


@dataclass
class FileVersion:
    """An answer set aside by Regenerate; `number` is its place among its question's answers."""
    number: int
    content: str
    state: str
    model: str | None
    error: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    prompt_ms: float | None
    decode_ms: float | None
    tokens_per_second: float | None
    created_at: float


@dataclass
class FileThinking:
    text: str
    seconds: float | None
    tokens: int | None


@dataclass
class FileSource:
    """A passage an answer was given to cite as [number] (engine/store/answer_sources.py)."""
    number: int
    path: str
    location: str
    start: int
    end: int
    passage: str
    collection: str


@dataclass
class FileMessage:
    id: int | str  # the id it had where it came from (ChatGPT's are UUIDs)
    role: str
    content: str
    state: str
    model: str | None
    error: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    prompt_ms: float | None
    decode_ms: float | None
    tokens_per_second: float | None
    created_at: float
    updated_at: float
    thinking: FileThinking | None = None
    tool_steps: list[FileToolStep] = field(default_factory=list)
    attachments: list[FileAttachment] = field(default_factory=list)
    versions: list[FileVersion] = field(default_factory=list)  # on a question: its answers set aside
    sources: list[FileSource] = field(default_factory=list)    # on an answer: the passages it was given


@dataclass
class FileChat:
    id: int | str
    origin: str  # the import key: a chat with this origin already here is not imported again
    title: str
    system_prompt: str
    settings: dict[str, Any]
    created_at: float
    updated_at: float
    messages: list[FileMessage] = field(default_factory=list)
    assistant: str | None = None  # the name of the assistant it answers as (None: a plain chat)


class ShapeError(ChatFileError):
    """The file is JSON but not shaped like a chat export; the text says where (the reader adds the file's name)."""
