"""ChatGPT's conversations.json as Hearth chats: each conversation's branch on show.

ChatGPT keeps every edit and regeneration as a tree (`mapping`: node → parent, children). The
branch the user last saw ends at `current_node`; walking `parent` links up to the root and
reversing gives it. System prompts, hidden context, tool traffic and empty nodes are left out;
text comes from the string `content.parts` (images and other part kinds are skipped).
"""
from __future__ import annotations

import hashlib
import time
from typing import Any

from .chat_file import FileChat, FileMessage, ShapeError

VISIBLE_ROLES = ("user", "assistant")


def is_chatgpt_export(document: Any) -> bool:
    """A list of conversations with a `mapping` each (an empty list too: an account with no chats)."""
    return isinstance(document, list) and all(isinstance(item, dict) and "mapping" in item for item in document)


def parse_chatgpt(document: list[dict]) -> list[FileChat]:
    chats, seen = [], set()
    for index, conversation in enumerate(document):
        where = f"conversation {index + 1}"
        chat = _chat(conversation, where)
        if chat.id in seen:
            raise ShapeError(f"conversation id {chat.id!r} appears twice.")
        seen.add(chat.id)
        chats.append(chat)
    return chats


def _chat(conversation: dict, where: str) -> FileChat:
    mapping = conversation.get("mapping")
    if not isinstance(mapping, dict) or not all(isinstance(node, dict) for node in mapping.values()):
        raise ShapeError(f"{where}: 'mapping' must be an object of nodes.")
    created_at = _time(conversation.get("create_time")) or time.time()
    updated_at = _time(conversation.get("update_time")) or created_at
    title = conversation.get("title")
    title = title.strip() if isinstance(title, str) and title.strip() else "Imported chat"
    chat_id = conversation.get("conversation_id") or conversation.get("id")
    if not isinstance(chat_id, str) or not chat_id:
        # Old exports without an id: the title and start time tell the conversation apart.
        chat_id = hashlib.sha256(f"{title}\0{created_at!r}".encode()).hexdigest()[:32]
    default_model = conversation.get("default_model_slug")
    messages: list[FileMessage] = []
    for node_id in _branch_on_show(mapping, conversation.get("current_node"), where):
        message = _visible_message(mapping[node_id].get("message"))
        if message is None:
            continue
        role, text, moment, model = message
        moment = moment or (messages[-1].created_at if messages else created_at)
        if messages and messages[-1].role == role:  # one turn split over nodes (around tool use): one message
            messages[-1].content += "\n\n" + text
            messages[-1].updated_at = moment
            continue
        model = (model or default_model) if role == "assistant" else None
        messages.append(FileMessage(
            id=node_id, role=role, content=text, state="complete",
            model=model if isinstance(model, str) else None, error=None, prompt_tokens=None, completion_tokens=None, prompt_ms=None, decode_ms=None,
            tokens_per_second=None, created_at=moment, updated_at=moment))
    return FileChat(id=chat_id, origin=f"chatgpt:{chat_id}", title=title, system_prompt="", settings={},
                    created_at=created_at, updated_at=max(updated_at, created_at), messages=messages)


def _branch_on_show(mapping: dict[str, dict], current: Any, where: str) -> list[str]:
    """Node ids from the root down to `current_node` (or, without one, to the newest leaf)."""
    if current is None:
        current = _newest_leaf(mapping)
    if current is None:
        return []
    if not isinstance(current, str) or current not in mapping:
        raise ShapeError(f"{where}: its current_node {str(current)[:80]!r} is not in its mapping.")
    path, seen = [], set()
    node_id: Any = current
    while node_id is not None:
        if node_id in seen:
            raise ShapeError(f"{where}: its parent links go round in a loop.")
        if not isinstance(node_id, str) or node_id not in mapping:
            raise ShapeError(f"{where}: node {str(node_id)[:80]!r} is named as a parent but is not in its mapping.")
        seen.add(node_id)
        path.append(node_id)
        node_id = mapping[node_id].get("parent")
    path.reverse()
    return path


def _newest_leaf(mapping: dict[str, dict]) -> str | None:
    leaves = [node_id for node_id, node in mapping.items() if not node.get("children")]
    return max(leaves, key=lambda node_id: _time((mapping[node_id].get("message") or {}).get("create_time")) or 0.0,
               default=None)


def _visible_message(message: Any) -> tuple[str, str, float | None, str | None] | None:
    """(role, text, time, model) of a message a person saw in the chat, or None."""
    if not isinstance(message, dict):
        return None
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    metadata = message.get("metadata") if isinstance(message.get("metadata"), dict) else {}
    if role not in VISIBLE_ROLES or metadata.get("is_visually_hidden_from_conversation"):
        return None
    if message.get("recipient", "all") != "all":  # the model calling a tool (browser, python…)
        return None
    content = message.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return None
    text = "\n\n".join(part for part in parts if isinstance(part, str) and part.strip())
    if not text.strip():
        return None
    model = metadata.get("model_slug")
    return role, text, _time(message.get("create_time")), model if isinstance(model, str) else None


def _time(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and value == value and value < 1e11:
        return float(value)
    return None
