"""Plain data the store hands out, and the errors it raises.

The UI may import these types (they hold no connection and no Qt); only app/ calls the Store.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLES = ("system", "user", "assistant")
STATES = ("complete", "streaming", "interrupted", "error")

# Search snippets mark each matched term with these markers (never HTML): private-use characters,
# so brackets in the text itself (code such as `s[::-1]`) are never taken for a match.
SNIPPET_OPEN = "\ue000"
SNIPPET_CLOSE = "\ue001"


class StoreError(Exception):
    """Something went wrong with the chat history; str(error) is fit to show the user."""


class StoreFullError(StoreError):
    """A write failed because the disk (or the file size limit) is full; nothing saved earlier was lost."""


class StoreCorruptError(StoreError):
    """The database file is damaged or not a database; `Store.open_or_recover` can salvage it."""


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    system_prompt: str
    settings: dict[str, Any] = field(hash=False)
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
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


@dataclass(frozen=True)
class SearchHit:
    conversation_id: int
    conversation_title: str
    message_id: int
    role: str
    snippet: str  # plain text; matches wrapped in SNIPPET_OPEN / SNIPPET_CLOSE


TOOL_STATES = ("requested", "running", "done", "failed", "denied", "stopped")


@dataclass(frozen=True)
class ToolStep:
    """One tool call of an answer: what the model asked, what the user allowed, what came back."""
    id: int
    message_id: int
    round: int
    call_id: str
    name: str
    arguments: str        # JSON text as the model wrote it
    preamble: str         # the model's words in this round before its calls (first step of a round)
    state: str            # one of TOOL_STATES
    approval: str | None  # 'once' | 'chat' | 'auto' | 'denied'
    result: str | None
    ok: bool | None
    elapsed_s: float | None


def readable_arguments(name: str, arguments: str) -> tuple[str, str]:
    """A tool call's arguments as a person reads them, and a label: Python code as code, a single
    text argument as that text (labelled with its name), anything else as indented JSON."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments, ""
    if name == "python" and isinstance(value, dict) and isinstance(value.get("code"), str):
        return value["code"], "python"
    if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), str):
        key, text = next(iter(value.items()))
        return text, str(key)
    return json.dumps(value, indent=2, ensure_ascii=False), "json"


@dataclass(frozen=True)
class Thinking:
    """What a reasoning model thought before it answered."""
    message_id: int
    text: str
    seconds: float | None
    tokens: int | None = None


@dataclass(frozen=True)
class AnswerVersion:
    """An answer Regenerate set aside, kept with its question (the answer on show is a message)."""
    question_id: int
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


@dataclass(frozen=True)
class Attachment:
    id: int
    message_id: int
    sha256: str
    mime: str
    path: str  # relative to Hearth's attachments folder
    width: int
    height: int
    size: int  # bytes


@dataclass(frozen=True)
class RecoveryReport:
    backup_path: Path
    recovered_conversations: int
    recovered_messages: int
    message: str  # fit to show the user as is


class AssistantFileError(StoreError):
    """An assistant file Hearth cannot read or write; str(error) is one line, fit to show the user.
    Raised before anything is saved: an import saves the whole assistant or nothing."""


@dataclass(frozen=True)
class Assistant:
    """A model made into a helper for one kind of work: standing instructions, its own model and
    sampling, the tools it may use and the knowledge collections it answers from. Empty or None
    fields fall back to the user's defaults, so an assistant only says what it changes."""
    id: int
    name: str
    instructions: str = ""
    model: str = ""                        # a GGUF path (or a server's model name); "" = the default
    temperature: float | None = None       # None = the default
    top_p: float | None = None
    max_tokens: int | None = None
    tools: tuple[str, ...] | None = None   # tool names it may use; None = the default tools, () = none
    think: str = ""                        # a think level ('off', 'short', 'long', 'unlimited'); "" = the default
    knowledge: tuple[str, ...] = ()        # knowledge collection names it answers from
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class AnswerSource:
    """A passage an answer was given to cite as [number]: where it is in which file, and its text."""
    number: int
    path: str
    location: str          # 'page 3', 'Install > Linux', 'whole file', or ''
    start: int             # character span in the file's extracted text
    end: int
    passage: str
    collection: str = ""
