"""One outside app's chat request carried to the engine host, and its answer carried back.

The host is asked to stream even when the app did not ask for a stream: a streamed answer can be
paused the moment the window wants the model (engine/llm/turns.py) and continued afterwards. To
continue, the same request goes again with the words sent so far as the model's own final turn
(the host continues a final assistant message: engine/llm/continue_message.py), asking only for
the tokens still allowed. The app sees one answer with one id, whatever happened in between.
"""
from __future__ import annotations

import http.client
import json
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from engine.cancel import Cancel
from engine.llm.turns import EngineTurns, Turn

WAIT_SLICE_S = 1.0  # while waiting for the host, say so this often (a streaming app gets a keep-alive)


class RelayError(Exception):
    """The request cannot be answered; `status` is the HTTP status to give the app."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Upstream:
    """The engine host behind the server: its private address and key, its model's name there."""
    base_url: str
    api_key: str
    host_model: str
    turns: EngineTurns | None = None


@dataclass
class Tally:
    """What one answer cost, for the request list and `usage`."""
    completion_tokens: int = 0
    pauses: int = 0            # times it stepped aside for the window
    finish_reason: str | None = None
    text: str = ""
    started: float = field(default_factory=time.monotonic)


WAITING = None  # yielded while the request waits its turn


def relay_chat(upstream: Upstream, body: dict, *, answer_id: str, created: int, model: str,
               cancel: Cancel, tally: Tally) -> Iterator[dict | None]:
    """The answer's chunks (`chat.completion.chunk` objects), and WAITING while it waits for the
    host. Raises RelayError when the host refuses the request or fails."""
    budget = _token_budget(body)
    first_segment = True
    resuming = False
    while True:
        turn = yield from _wait_for_turn(upstream.turns, resuming, cancel)
        if turn is None:
            return
        try:
            request = _segment_request(body, upstream.host_model, tally, budget)
            if request is None:  # the budget ran out exactly at a pause
                tally.finish_reason = "length"
                yield _chunk(answer_id, created, model, {}, "length")
                return
            for chunk in _open_stream(upstream, request, cancel, turn):
                usage = chunk.get("usage")
                if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                    tally.completion_tokens += usage["completion_tokens"]
                choices = chunk.get("choices") or []
                if not choices:
                    continue
                choice = choices[0]
                delta = dict(choice.get("delta") or {})
                if not first_segment:
                    delta.pop("role", None)
                tally.text += delta.get("content") or ""
                finish = choice.get("finish_reason")
                if delta or finish:
                    yield _chunk(answer_id, created, model, delta, finish)
                if finish:
                    tally.finish_reason = finish  # the host's usage figure follows it
            if tally.finish_reason:
                return
        finally:
            if upstream.turns is not None:
                upstream.turns.release(turn)
        if cancel.cancelled:
            return
        if not turn.yielded:
            raise RelayError(502, "The engine stopped before finishing the answer.")
        tally.pauses += 1
        tally.completion_tokens = count_tokens(upstream, tally.text, tally.completion_tokens)
        first_segment = False
        resuming = True


def _wait_for_turn(turns: EngineTurns | None, resuming: bool, cancel: Cancel):  # noqa: ANN202 - a generator
    """Yields WAITING while the host is busy; returns the turn (None when cancelled meanwhile)."""
    if turns is None:
        return Turn()
    ticket = turns.join_line(resuming=resuming)
    try:
        while not cancel.cancelled:
            turn = turns.take(ticket, timeout=WAIT_SLICE_S)
            if turn is not None:
                ticket = None
                return turn
            yield WAITING
        return None
    finally:
        if ticket is not None:
            turns.leave_line(ticket)


def _token_budget(body: dict) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _segment_request(body: dict, host_model: str, tally: Tally, budget: int | None) -> dict | None:
    request = {k: v for k, v in body.items()
               if k not in ("stream", "stream_options", "model", "max_completion_tokens", "n")}
    request.update(model=host_model, stream=True)
    if budget is not None:
        left = budget - tally.completion_tokens
        if left <= 0:
            return None
        request["max_tokens"] = left
    if tally.text:
        request["messages"] = [*body["messages"], {"role": "assistant", "content": tally.text}]
        request.update(continue_final_message=True, add_generation_prompt=False)
    return request


def _open_stream(upstream: Upstream, request: dict, cancel: Cancel, turn) -> Iterator[dict]:  # noqa: ANN001
    """The host's server-sent events as dicts; ends early (quietly) when the stream is closed
    because the window wants the host or the app went away."""
    parts = urlsplit(upstream.base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    payload = json.dumps(request).encode("utf-8")
    try:
        connection.connect()
    except OSError as exc:
        raise RelayError(503, "The engine is not running.") from exc
    sock = connection.sock

    def close() -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    turn.on_yield(close)
    cancel.on_cancel(close)
    try:
        try:
            connection.request("POST", f"{parts.path.rstrip('/')}/chat/completions", body=payload, headers={
                "Authorization": f"Bearer {upstream.api_key}", "Content-Type": "application/json",
                "Accept": "text/event-stream"})
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            if turn.yielded or cancel.cancelled:
                return
            raise RelayError(503, "The engine did not answer.") from exc
        if response.status != 200:
            raise RelayError(response.status if response.status in (400, 404, 422) else 502,
                             _error_message(response.read(65536)))
        while True:
            try:
                line = response.readline()
            except (OSError, http.client.HTTPException, ValueError):
                if turn.yielded or cancel.cancelled:
                    return
                raise RelayError(502, "The connection to the engine broke off.") from None
            if not line:
                return
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                return
            chunk = json.loads(data)
            if isinstance(chunk.get("error"), dict):
                raise RelayError(502, f"The engine failed: {chunk['error'].get('message', '')}")
            yield chunk
    finally:
        connection.close()


def count_tokens(upstream: Upstream, text: str, fallback: int) -> int:
    """Tokens of `text` by the host's tokenizer, without waiting for the model (a paused stream
    never sends its usage figure)."""
    counted = host_count(upstream, "/hearth/tokenize/counts", {"inputs": [text]}, lambda reply: reply["counts"][0])
    return fallback if counted is None else counted


def host_count(upstream: Upstream, path: str, body: dict, pick: Callable[[dict], object]) -> int | None:
    """A count from one of the host's own tokenizer routes (they never wait for the model);
    None when the host cannot say."""
    parts = urlsplit(upstream.base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("POST", path, body=json.dumps(body).encode(),
                           headers={"Authorization": f"Bearer {upstream.api_key}", "Content-Type": "application/json"})
        response = connection.getresponse()
        return int(pick(json.loads(response.read()))) if response.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError, TypeError):
        return None
    finally:
        connection.close()


def _error_message(raw: bytes) -> str:
    try:
        error = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:300] or "The engine refused the request."
    if isinstance(error, dict):
        detail = error.get("error") or error.get("detail")
        if isinstance(detail, dict):
            return str(detail.get("message", detail))
        if detail:
            return json.dumps(detail)[:600] if not isinstance(detail, str) else detail
    return "The engine refused the request."


def _chunk(answer_id: str, created: int, model: str, delta: dict, finish: str | None) -> dict:
    return {"id": answer_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def new_answer_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def assemble(chunks: Callable[[], Iterator[dict | None]]) -> tuple[dict, list[dict]]:
    """A whole message from streamed chunks (for an app that asked for no stream): the
    message and its tool calls."""
    message: dict = {"role": "assistant", "content": ""}
    calls: dict[int, dict] = {}
    for chunk in chunks():
        if chunk is None:
            continue
        delta = chunk["choices"][0]["delta"]
        message["content"] += delta.get("content") or ""
        for piece in delta.get("tool_calls") or ():
            call = calls.setdefault(piece.get("index", 0), {"id": "", "type": "function",
                                                            "function": {"name": "", "arguments": ""}})
            call["id"] = piece.get("id") or call["id"]
            function = piece.get("function") or {}
            call["function"]["name"] += function.get("name") or ""
            call["function"]["arguments"] += function.get("arguments") or ""
    return message, [calls[i] for i in sorted(calls)]
