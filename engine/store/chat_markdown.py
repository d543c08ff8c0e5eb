"""Chats as markdown, for reading: one chat to a .md file (its images in a folder beside it),
several to a folder with one file per chat and their images in `images/`.

Markdown is for people; it keeps the answer on show, thinking and tool calls, not every field
(JSON export is the one that keeps everything).
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import quote

from .chat_export import ExportReport, write_atomically, read_chats, report_for
from .chat_file import ChatFileError, FileAttachment, FileChat, FileMessage, FileSource, extension_for
from .database import Store

WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+|!~-])")


def write_markdown_export(store: Store, attachments_dir: Path, out: Path,
                          conversation_ids: Iterable[int] | None = None) -> ExportReport:
    """One chat: `out` is the .md file (or a folder to put it in). Several: `out` is a folder."""
    chats = read_chats(store, attachments_dir, conversation_ids)
    if not chats:
        raise ChatFileError("There are no chats to export.")
    out = Path(out)
    try:
        if len(chats) == 1 and not out.is_dir():
            _write_chat(chats[0], out, out.parent / f"{out.stem}-images")
        else:
            if out.exists() and not out.is_dir():
                raise ChatFileError(f"{out} is a file; several chats are exported to a folder (one file each).")
            out.mkdir(parents=True, exist_ok=True)
            taken: set[str] = set()
            for chat in chats:
                _write_chat(chat, out / safe_file_name(chat.title, taken), out / "images")
    except OSError as error:
        raise ChatFileError(f"Could not write {out}: {error.strerror or error}.") from error
    return report_for(out, chats)


def _write_chat(chat: FileChat, path: Path, images: Path) -> None:
    def image_link(attachment: FileAttachment) -> str | None:
        if attachment.data is None:
            return None
        name = f"{attachment.sha256}.{extension_for(attachment.mime)}"
        target = images / name
        if not (target.is_file() and target.stat().st_size == len(attachment.data)):
            images.mkdir(parents=True, exist_ok=True)
            write_atomically(target, attachment.data)
        return quote(f"{images.name}/{name}")

    write_atomically(path, render_chat(chat, image_link).encode("utf-8"))


def safe_file_name(title: str, taken: set[str]) -> str:
    """A file name from a chat title that every system accepts, unlike any in `taken` (case aside)."""
    stem = re.sub(r"[^\w\s.,()'-]+", " ", title)
    stem = re.sub(r"\s+", " ", stem).strip(" .")[:80].strip(" .") or "chat"
    if stem.split(".")[0].upper() in WINDOWS_RESERVED:
        stem = f"{stem} chat"
    name, number = f"{stem}.md", 2
    while name.casefold() in taken:
        name, number = f"{stem} ({number}).md", number + 1
    taken.add(name.casefold())
    return name


def render_chat(chat: FileChat, image_link: Callable[[FileAttachment], str | None]) -> str:
    """The chat as markdown; `image_link` puts an attachment where the file can see it (None: missing)."""
    title = " ".join(chat.title.split()) or "Chat"
    lines = [f"# {title}", "", f"*Exported from Hearth · started {_when(chat.created_at)} · "
             f"{len(chat.messages)} message{'' if len(chat.messages) == 1 else 's'}*", ""]
    if chat.system_prompt.strip():
        lines += ["> **System prompt**", ">", *(f"> {line}" for line in chat.system_prompt.splitlines()), ""]
    versions_pending: FileMessage | None = None
    for message in chat.messages:
        lines += _render_message(message, image_link)
        if message.role == "assistant" and versions_pending is not None:
            shown, total = _shown_of(versions_pending)
            lines += [f"*Answer {shown} of {total} on show.*", ""]
        versions_pending = message if message.role == "user" and message.versions else None
    return "\n".join(lines).rstrip() + "\n"


def _render_message(message: FileMessage, image_link: Callable[[FileAttachment], str | None]) -> list[str]:
    who = ROLE_NAMES.get(message.role, message.role)
    if message.role == "assistant" and message.model:
        who += f" ({message.model})"
    lines = [f"## {who} · {_when(message.created_at)}", ""]
    if message.thinking is not None and message.thinking.text.strip():
        took = f" ({message.thinking.seconds:.1f} s)" if message.thinking.seconds is not None else ""
        lines += [f"<details><summary>Thinking{took}</summary>", "", message.thinking.text.strip(), "", "</details>", ""]
    for step in message.tool_steps:
        if step.preamble.strip():
            lines += [step.preamble.strip(), ""]
        lines += [f"**Tool call** `{step.name}` ({step.state})", "", _fenced(step.arguments, "json"), ""]
        if step.result is not None:
            lines += ["Result:", "", _fenced(step.result, ""), ""]
    if message.content:
        lines += [message.content, ""]
    if message.sources:
        lines += ["**Sources**", "", *(f"- {_source_line(source)}" for source in message.sources), ""]
    for number, attachment in enumerate(message.attachments, 1):
        link = image_link(attachment)
        lines += [f"![image {number}]({link})" if link else f"*(image {number} is missing)*", ""]
    if message.state == "interrupted":
        lines += ["*This answer was interrupted.*", ""]
    elif message.state == "error":
        lines += [f"*This answer failed: {message.error or 'unknown error'}*", ""]
    return lines


def _source_line(source: FileSource) -> str:
    """"[1] report.pdf · page 3 — `/the/full/path`", every character of the file's words as itself."""
    name = _escaped(Path(source.path).name or source.path)
    where = " ".join(source.location.split())
    line = f"\\[{source.number}\\] {name}" + (f" · {_escaped(where)}" if where else "")
    return f"{line} — {_code_span(' '.join(source.path.split()))}"


def _escaped(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _code_span(text: str) -> str:
    """Inline code no backtick run inside `text` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def _shown_of(question: FileMessage) -> tuple[int, int]:
    kept = {version.number for version in question.versions}
    total = len(kept) + 1
    return next(n for n in range(1, total + 1) if n not in kept), total


def _fenced(text: str, language: str) -> str:
    """A code block no backtick run inside `text` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _when(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return "?"
