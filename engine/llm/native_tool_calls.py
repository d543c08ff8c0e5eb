"""Tool calls written in a model's own words, turned into OpenAI `tool_calls`.

llama_cpp.server renders `tools=` into the model's chat template, but with `tool_choice="auto"`
it hands back whatever the model wrote as plain `content`. Each family writes its calls its own
way; the engine host runs every streamed answer that was offered tools through `ToolCallStream`:

- Hermes / Qwen:   <tool_call>{"name": "f", "arguments": {...}}</tool_call>   (one or more)
- Llama 3.x JSON:  <|python_tag|>{"name": "f", "parameters": {...}}   or the bare object
- Llama 3.1 tags:  <function=f>{...}</function>
- Mistral:         [TOOL_CALLS][{"name": "f", "arguments": {...}}, ...]   or   [TOOL_CALLS]f[ARGS]{...}

Text before a call streams as it comes; from a call's first mark to the end of the answer the
text is held back and parsed at the end. What does not parse as a call is given back as text,
so a model that merely mentions `<tool_call>` loses nothing. Only the local host does this:
text that looks like a call in a remote server's content stays text (the server said it was).
"""
from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

MARKERS = ("<tool_call>", "<|python_tag|>", "<function=", "[TOOL_CALLS]")
_HOLD = max(len(m) for m in MARKERS) - 1  # a marker may be split across chunks


@dataclass(frozen=True)
class NativeCall:
    name: str
    arguments: str  # JSON text of an object

    def openai(self, index: int) -> dict:
        return {"index": index, "id": f"call_{secrets.token_hex(8)}", "type": "function",
                "function": {"name": self.name, "arguments": self.arguments}}


def parse_calls(text: str) -> list[NativeCall] | None:
    """Every call in `text` (held back from its first mark); None when it is not calls after all."""
    body = text.strip()
    calls: list[NativeCall] = []
    if "<tool_call>" in body:
        for inner in re.findall(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", body, flags=re.S):
            calls.extend(_from_json(inner) or [])
    elif body.startswith("<function="):
        for name, inner in re.findall(r"<function=([\w.\-]+)>\s*(.*?)\s*(?:</function>|$)", body, flags=re.S):
            arguments = _object_text(inner)
            if arguments is not None:
                calls.append(NativeCall(name, arguments))
    elif body.startswith("[TOOL_CALLS]"):
        rest = body[len("[TOOL_CALLS]"):].strip()
        if "[ARGS]" in rest:
            for name, inner in re.findall(r"([\w.\-]+)\[ARGS\]\s*(\{.*?\})\s*(?=\[TOOL_CALLS\]|$)", rest, flags=re.S):
                arguments = _object_text(inner)
                if arguments is not None:
                    calls.append(NativeCall(name.strip(), arguments))
        else:
            calls.extend(_from_json(rest) or [])
    else:
        calls.extend(_from_json(body.removeprefix("<|python_tag|>")) or [])
    return calls or None


def _from_json(text: str) -> list[NativeCall] | None:
    try:
        value = json.loads(text.strip())
    except ValueError:
        return None
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        arguments = item.get("arguments", item.get("parameters", {}))
        if isinstance(arguments, str):
            arguments = _object_text(arguments)
            if arguments is None:
                return None
        elif isinstance(arguments, dict):
            arguments = json.dumps(arguments, ensure_ascii=False)
        else:
            return None
        calls.append(NativeCall(item["name"], arguments))
    return calls


def _object_text(text: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else None


class ToolCallStream:
    """Feed the answer's text as it streams; `feed` returns what may be shown now, `finish` the
    calls found (and any held text that turned out not to be a call)."""

    def __init__(self) -> None:
        self._shown_any = False
        self._pending = ""     # not yet shown: may be the start of a mark
        self._held: str | None = None  # from a call's first mark on

    def feed(self, text: str) -> str:
        if self._held is not None:
            self._held += text
            return ""
        self._pending += text
        if not self._shown_any and self._pending.lstrip()[:1] in ("{", "["):
            self._held, self._pending = self._pending, ""  # a bare JSON call (Llama 3, Mistral)
            return ""
        starts = [i for i in (self._pending.find(m) for m in MARKERS) if i >= 0]
        if starts:
            cut = min(starts)
            out, self._held, self._pending = self._pending[:cut], self._pending[cut:], ""
        else:
            keep = _possible_mark_start(self._pending)
            out, self._pending = self._pending[:keep], self._pending[keep:]
        if out.strip():
            self._shown_any = True
        return out

    def finish(self) -> tuple[str, list[NativeCall]]:
        """(text still to show, calls)."""
        if self._held is None:
            out, self._pending = self._pending, ""
            return out, []
        held, self._held = self._held, None
        calls = parse_calls(held)
        if calls is None:
            return self._pending + held, []
        return self._pending, calls


def _possible_mark_start(text: str) -> int:
    """Where the text could begin a mark that the next chunk completes (len(text) if nowhere)."""
    for start in range(max(0, len(text) - _HOLD), len(text)):
        tail = text[start:]
        if any(m.startswith(tail) for m in MARKERS):
            return start
    return len(text)


def transform_chunks(chunks: Iterator[dict]) -> Iterator[dict]:
    """llama_cpp.server's streamed chat chunks, with native calls turned into `tool_calls`."""
    scanner = ToolCallStream()
    template: dict | None = None
    finish_chunk: dict | None = None
    for chunk in chunks:
        choices = chunk.get("choices") or []
        if not choices:
            yield chunk
            continue
        template = chunk
        choice = choices[0]
        delta = choice.get("delta") or {}
        text = delta.get("content")
        if choice.get("finish_reason"):
            finish_chunk = chunk
            if text:
                out = scanner.feed(text)
                if out:
                    yield _with_content(chunk, out)
            continue
        if text is None:
            yield chunk
            continue
        out = scanner.feed(text)
        if out or "role" in delta:
            yield _with_content(chunk, out)
    rest, calls = scanner.finish()
    if template is None:
        return
    if rest:
        yield _with_content(template, rest)
    if calls:
        yield {**template, "choices": [{"index": 0, "delta": {"tool_calls": [c.openai(i) for i, c in enumerate(calls)]},
                                        "finish_reason": None, "logprobs": None}]}
    if finish_chunk is not None:
        reason = "tool_calls" if calls else finish_chunk["choices"][0].get("finish_reason")
        yield {**finish_chunk, "choices": [{**finish_chunk["choices"][0], "delta": {}, "finish_reason": reason}]}


def transform_message(response: dict) -> dict:
    """A whole (non-streamed) chat completion, with native calls turned into `tool_calls`."""
    try:
        choice = response["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        return response
    content = message.get("content") or ""
    if message.get("tool_calls") or not content:
        return response
    scanner = ToolCallStream()
    shown = scanner.feed(content)
    rest, calls = scanner.finish()
    if not calls:
        return response
    message = {**message, "content": (shown + rest) or None,
               "tool_calls": [c.openai(i) for i, c in enumerate(calls)]}
    for call in message["tool_calls"]:
        call.pop("index", None)
    return {**response, "choices": [{**choice, "message": message, "finish_reason": "tool_calls"}]}


def _with_content(chunk: dict, text: str) -> dict:
    """The chunk carrying `text` as its content (any finish is reported by the last chunk alone)."""
    choice = chunk["choices"][0]
    delta = {k: v for k, v in (choice.get("delta") or {}).items() if k != "content"}
    delta["content"] = text
    return {**chunk, "choices": [{**choice, "delta": delta, "finish_reason": None}]}


def wrap(create_chat_completion):  # noqa: ANN001, ANN201 - llama_cpp.Llama's method
    """`Llama.create_chat_completion`, turning native calls into `tool_calls` when tools were
    offered and the model may choose (a named `tool_choice` is already structured by llama.cpp's
    grammar; "none" means no calls)."""

    def create(self, *args, **kwargs):  # noqa: ANN001, ANN202
        result = create_chat_completion(self, *args, **kwargs)
        choice = kwargs.get("tool_choice")
        if not kwargs.get("tools") or choice == "none" or isinstance(choice, dict):
            return result
        return transform_message(result) if isinstance(result, dict) else transform_chunks(result)

    create.__wrapped__ = create_chat_completion
    return create
