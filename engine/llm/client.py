"""Streaming chat over the OpenAI protocol: one code path for the local host and remote servers.

`ChatClient.stream(...)` yields `TextDelta`s and, last, one `StreamFinished` with timings. Each
step is a place to cancel; cancelling closes the HTTP stream, and llama_cpp.server stops
generating when it sees the disconnect.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from functools import partial
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.cancel import Cancel, stream_socket, wake_reader

if TYPE_CHECKING:
    import openai

    from engine.llm.turns import EngineTurns

# `openai` is imported where it is used: importing it takes ~0.8 s (its type modules), which
# would otherwise come before the window appears. The first ChatClient is made while the model
# loads, in the background.


class ChatError(Exception):
    """A user-facing failure of a chat request."""


class EngineUnavailableError(ChatError):
    """The server could not be reached (the local host died, or a remote server is down)."""


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class StreamFinished:
    finish_reason: str  # 'stop', 'length', 'cancelled'
    completion_tokens: int
    prompt_tokens: int | None
    ttft_ms: float
    decode_ms: float

    @property
    def tokens_per_second(self) -> float:
        if self.completion_tokens <= 1 or self.decode_ms <= 0:
            return 0.0
        return (self.completion_tokens - 1) / (self.decode_ms / 1000.0)


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for: untrusted until the user approves it."""
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it (may not even parse)


@dataclass(frozen=True)
class ToolCallsRequested:
    """The model's turn ended asking for these calls (sent before StreamFinished)."""
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class ReasoningDelta:
    """Thinking a server sent apart from the answer (`reasoning_content` or `reasoning`)."""
    text: str


ChatEvent = TextDelta | ReasoningDelta | ToolCallsRequested | StreamFinished


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int | None = None


class ChatClient:
    """An OpenAI-compatible endpoint: the local engine host or a remote server."""

    def __init__(self, base_url: str, api_key: str = "none", model: str = "local", *,
                 timeout: float = 600.0, turns: EngineTurns | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.turns = turns  # Hearth's own host: the window's answers go before outside requests
        openai = _import_openai()

        self._client = openai.OpenAI(base_url=self.base_url, api_key=api_key or "none",
                                     max_retries=0, timeout=timeout)
        # openai imports its chat resources, and builds their pydantic types, on first use: ~40 ms
        # of GIL-holding work. Done here (in the background, while the model loads) rather than in
        # the first answer, where it stalled the window.
        self._client.chat.completions.with_streaming_response  # noqa: B018

    def close(self) -> None:
        self._client.close()

    def list_models(self) -> list[str]:
        import openai

        try:
            return [m.id for m in self._client.models.list()]
        except openai.APIConnectionError as exc:
            raise EngineUnavailableError(f"Cannot reach the model server at {self.base_url}.") from exc
        except openai.APIStatusError as exc:
            raise ChatError(_status_message(exc)) from exc

    def stream(self, messages: Sequence[dict], sampling: Sampling = Sampling(),
               cancel: Cancel | None = None, *, tools: Sequence[dict] = (),
               tool_choice: str | dict | None = None, continue_final: bool = False,
               no_thinking: bool = False) -> Iterator[ChatEvent]:
        """Text as it comes; with `tools`, the calls the model asks for (OpenAI `tool_calls`,
        streamed in pieces by index) arrive whole in one ToolCallsRequested before the end.

        `continue_final`: the last message is the assistant's own, to be continued (vLLM needs
        to be told; llama.cpp's server, Ollama and Hearth's host do it by themselves).
        `no_thinking`: ask a server's template not to think (Qwen3-style `enable_thinking`)."""
        with self.turns.foreground() if self.turns is not None else nullcontext():
            yield from self._stream(messages, sampling, cancel, tools=tools, tool_choice=tool_choice,
                                    continue_final=continue_final, no_thinking=no_thinking)

    def _stream(self, messages: Sequence[dict], sampling: Sampling, cancel: Cancel | None, *,
                tools: Sequence[dict], tool_choice: str | dict | None, continue_final: bool,
                no_thinking: bool) -> Iterator[ChatEvent]:
        import openai

        cancel = cancel or Cancel()
        started = time.perf_counter()
        first_at: float | None = None
        last_at = started
        tokens = 0
        prompt_tokens: int | None = None
        reported_tokens: int | None = None  # a server that folds tokens into chunks says how many
        finish: str | None = None
        kwargs: dict = {"temperature": sampling.temperature, "top_p": sampling.top_p,
                        "max_tokens": sampling.max_tokens}
        if sampling.seed is not None:
            kwargs["seed"] = sampling.seed
        body: dict = {"messages": list(messages)}
        if tools:
            body["tools"] = list(tools)
            if tool_choice is not None:
                body["tool_choice"] = tool_choice
        if continue_final:
            body.update(continue_final_message=True, add_generation_prompt=False)
        if no_thinking:
            body["chat_template_kwargs"] = {"enable_thinking": False}
        calls: dict[int, dict] = {}
        try:
            # The messages travel in extra_body: the openai package would otherwise walk every
            # message through its type-driven transform (~50 ms of pure Python for a long chat,
            # holding the GIL while the window wants to paint). The JSON sent is the same.
            manager = self._client.chat.completions.with_streaming_response.create(
                model=self.model, messages=[], stream=True, extra_body=body, **kwargs)
            response = manager.__enter__()
        except openai.APIConnectionError as exc:
            if cancel.cancelled:
                yield StreamFinished("cancelled", 0, None, 0.0, 0.0)
                return
            raise EngineUnavailableError(f"Cannot reach the model server at {self.base_url}.") from exc
        except openai.APIStatusError as exc:
            raise ChatError(_status_message(exc)) from exc
        sock = stream_socket(response.http_response.extensions.get("network_stream"))
        stop_reading = partial(wake_reader, sock) if sock is not None else response.close
        try:
            with cancel.closing(stop_reading):
                # Server-sent events parsed here with json.loads: building a typed chunk object per
                # token cost ~0.3 ms of CPU that, on a small machine, llama.cpp's threads lose.
                for line in response.iter_lines():
                    if cancel.cancelled:
                        finish = "cancelled"
                        break
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    chunk = json.loads(payload)
                    if isinstance(chunk.get("error"), dict):
                        raise ChatError(f"The model server reported an error: {chunk['error'].get('message', chunk['error'])}")
                    usage = chunk.get("usage")
                    if usage and usage.get("prompt_tokens"):
                        prompt_tokens = usage["prompt_tokens"]
                    if usage and isinstance(usage.get("completion_tokens"), int):
                        reported_tokens = usage["completion_tokens"]
                    choices = chunk.get("choices")
                    if not choices:
                        continue
                    choice = choices[0]
                    delta = choice.get("delta") or {}
                    for piece in delta.get("tool_calls") or ():
                        _gather_call(calls, piece)
                        last_at = time.perf_counter()  # a call is the answer's output too: it times the turn
                        first_at = first_at or last_at
                    thought = delta.get("reasoning_content") or delta.get("reasoning")
                    if isinstance(thought, str) and thought:
                        now = time.perf_counter()
                        first_at = first_at or now
                        last_at = now
                        tokens += 1  # a thought is output too: without a usage figure, count it
                        yield ReasoningDelta(thought)
                    text = delta.get("content")
                    if text:
                        now = time.perf_counter()
                        if first_at is None:
                            first_at = now
                        last_at = now
                        tokens += 1
                        yield TextDelta(text)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        except ChatError:
            raise
        except (openai.APIConnectionError, openai.APIError) as exc:
            if cancel.cancelled:
                finish = "cancelled"
            else:
                raise EngineUnavailableError(
                    "The connection to the model server broke off in the middle of the answer.") from exc
        except Exception as exc:  # the transport raises its own errors when closed from another thread
            if not cancel.cancelled:
                raise EngineUnavailableError(
                    "The connection to the model server broke off in the middle of the answer.") from exc
            finish = "cancelled"
        finally:
            try:
                manager.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - closing a broken stream
                pass
        if finish is None and cancel.cancelled:
            finish = "cancelled"  # Stop shut the connection: to a body read until the end, that is its end
        if finish is None:
            # The stream ended without a finish reason: the server failed after it had begun
            # answering (llama_cpp.server does this when, e.g., a chat template raises).
            raise ChatError("The model server stopped before finishing the answer; "
                            "it may have failed (for the built-in engine, its log says why).")
        if calls:
            yield ToolCallsRequested(tuple(ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"] or "{}")
                                           for i, c in sorted(calls.items()) if c["name"]))
        ttft = ((first_at or last_at) - started) * 1000.0
        decode = (last_at - first_at) * 1000.0 if first_at else 0.0
        yield StreamFinished(finish, reported_tokens or tokens, prompt_tokens, ttft, decode)

    def count_tokens_many(self, texts: list[str]) -> list[int] | None:
        """Exact counts from Hearth's engine host in one request; None elsewhere."""
        result = self._post_beside_api("/hearth/tokenize/counts", {"inputs": list(texts)})
        counts = result.get("counts") if isinstance(result, dict) else None
        if isinstance(counts, list) and len(counts) == len(texts) and all(isinstance(c, int) for c in counts):
            return counts
        return None

    def count_chat_tokens(self, messages: Sequence[dict]) -> int | None:
        """Tokens of a whole prompt as the model's template frames it (Hearth's host); None elsewhere."""
        result = self._post_beside_api("/hearth/tokenize/chat", {"messages": list(messages)})
        return result["count"] if isinstance(result, dict) and isinstance(result.get("count"), int) else None

    def count_tokens(self, text: str) -> int | None:
        """Exact count from llama_cpp.server's tokenizer; None where the server lacks it."""
        counts = self.count_tokens_many([text])
        if counts is not None:  # Hearth's host: without waiting for (and so stopping) an answer
            return counts[0]
        result = self._post_beside_api("/extras/tokenize/count", {"input": text})
        if isinstance(result, dict) and isinstance(result.get("count"), int):
            return result["count"]
        return None

    def _post_beside_api(self, path: str, body: dict) -> object | None:
        """POST to a route outside /v1 (llama_cpp.server's extras, Hearth's host routes); None
        on any failure: other servers need not offer these."""
        try:
            return self._client.post(self.base_url.removesuffix("/v1") + path, body=body, cast_to=object)
        except Exception:  # noqa: BLE001
            return None


_IMPORT_LOCK = threading.Lock()


def _import_openai():
    """openai (and pydantic under it) imported once, on whichever thread gets here first.
    Seen here: at start-up, 1 launch in 5 failed with "cannot import name 'import_string' from
    partially initialized module 'pydantic._internal._validators'" while other threads imported
    at the same time; a half-made module is finished by then, so one more try after a pause works."""
    with _IMPORT_LOCK:
        for attempt in range(3):
            try:
                import openai

                return openai
            except ImportError as exc:
                if "partially initialized" not in str(exc) or attempt == 2:
                    raise
                time.sleep(0.2)


def _gather_call(calls: dict[int, dict], piece: dict) -> None:
    """One streamed piece of a tool call: the first names it, later ones extend its arguments."""
    if not isinstance(piece, dict):
        return
    index = piece.get("index", len(calls)) if isinstance(piece.get("index", 0), int) else len(calls)
    call = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
    if piece.get("id"):
        call["id"] = piece["id"]
    function = piece.get("function") or {}
    if function.get("name") and not call["name"]:
        call["name"] = function["name"]
    if isinstance(function.get("arguments"), str):
        call["arguments"] += function["arguments"]


def _status_message(exc: openai.APIStatusError) -> str:
    detail = ""
    try:
        body = exc.response.json()
        detail = body.get("error", {}).get("message") if isinstance(body.get("error"), dict) else body.get("detail") or ""
    except Exception:  # noqa: BLE001
        detail = exc.message
    if exc.status_code in (401, 403):
        return "The model server rejected Hearth's key. Check the API key in Settings."
    if exc.status_code == 404:
        return "The model server does not know this model or endpoint."
    if detail and "context window" in str(detail).lower():
        return "The conversation is too long for this model's context window."
    return f"The model server answered with an error ({exc.status_code}): {detail or exc.message}"
