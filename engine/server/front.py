"""Hearth's OpenAI-compatible door for the user's other apps, in front of the engine host.

Outside apps never reach the host itself: its CORS lets any web page in, a second request cuts
the first one short, and its key is Hearth's own. Here every request needs the server's key (401
without it), no CORS header lets a browser page read an answer, images come only inline (a
`data:` URI: the engine fetches nothing on an app's behalf), and answers take turns with the
window's (engine/llm/turns.py, engine/server/relay.py).

Routes: GET /v1/models, POST /v1/chat/completions (streamed or not), POST /v1/embeddings.
"""
from __future__ import annotations

import base64
import functools
import hmac
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from engine.cancel import Cancel
from engine.server.ledger import Ledger, ServedRequest, now
from engine.server.relay import WAITING, RelayError, Tally, Upstream, assemble, host_count, new_answer_id, relay_chat

MAX_BODY_BYTES = 64 * 1024 * 1024   # a few large inline images
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
MAX_EMBEDDING_INPUTS = 2048
_END = object()


def served_name(host_model: str) -> str:
    """A model as apps name it: its file name without `.gguf`."""
    name = Path(host_model).name
    return name[:-5] if name.lower().endswith(".gguf") else name


def error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status_code=status)


class RequireKey:
    """Every request carries `Authorization: Bearer KEY`, or gets 401 and nothing else."""

    def __init__(self, app, key: Callable[[], str]) -> None:  # noqa: ANN001 - an ASGI app
        self.app = app
        self.key = key

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"").decode("latin-1")
            expected = f"Bearer {self.key()}"
            if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
                response = error(401, "A valid API key is required: send it as 'Authorization: Bearer KEY'. "
                                      "Hearth shows the key in Settings → Server.", code="invalid_api_key")
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Embeddings:
    """The knowledge embedding model, loaded on the first request and shared after."""

    def __init__(self) -> None:
        self._embedder = None
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> tuple[list, int]:
        with self._lock:
            if self._embedder is None:
                from engine.knowledge.minilm import MiniLmEmbedder

                self._embedder = MiniLmEmbedder()
            embedder = self._embedder
            vectors = embedder.embed(texts)
            tokens = sum(embedder.count_tokens(text) for text in texts)
        return vectors, tokens


def create_front(upstream: Callable[[], Upstream | None], *, api_key: Callable[[], str], ledger: Ledger,
                 embeddings: Embeddings | None = None) -> RequireKey:
    """The server as an ASGI app. `upstream` says where the engine is right now (None: no model
    loaded); `api_key` is asked on every request, so a regenerated key takes effect at once."""
    embeddings = embeddings or Embeddings()

    async def models(request: Request) -> Response:
        source = upstream()
        created = int(time.time())
        data = []
        if source is not None:
            data.append({"id": served_name(source.host_model), "object": "model", "created": created, "owned_by": "hearth"})
        data.append({"id": EMBEDDING_MODEL, "object": "model", "created": created, "owned_by": "hearth"})
        return JSONResponse({"object": "list", "data": data})

    async def chat(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        problem = _chat_problem(body)
        if problem:
            return error(400, problem)
        source = upstream()
        if source is None:
            return error(503, "No model is loaded in Hearth right now.", "server_error")
        name = served_name(source.host_model)
        if body.get("model") not in (None, "", name, source.host_model):
            return error(404, f"The model '{body['model']}' is not loaded here; this server has '{name}'.",
                         code="model_not_found")
        return await _answer(request, body, source, name, ledger)

    async def embed(request: Request) -> Response:
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if (not isinstance(texts, list) or not texts or len(texts) > MAX_EMBEDDING_INPUTS
                or not all(isinstance(t, str) and t for t in texts)):
            return error(400, f"'input' must be a non-empty string or a list of up to {MAX_EMBEDDING_INPUTS} "
                              "non-empty strings.")
        if body.get("model") not in (None, "", EMBEDDING_MODEL):
            return error(404, f"The embedding model here is '{EMBEDDING_MODEL}'.", code="model_not_found")
        started = time.monotonic()
        ledger.started()
        outcome, tokens = "ok", 0
        try:
            vectors, tokens = await anyio.to_thread.run_sync(embeddings.embed, texts)
        except Exception as exc:  # noqa: BLE001 - the app gets the reason, the server goes on
            outcome = f"failed: {exc}"
            return error(500, f"The embedding model failed: {exc}", "server_error")
        finally:
            ledger.finished(ServedRequest(now(), _client(request), "/v1/embeddings", EMBEDDING_MODEL, tokens, 0,
                                          time.monotonic() - started, outcome))
        as_base64 = body.get("encoding_format") == "base64"
        data = [{"object": "embedding", "index": i,
                 "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode() if as_base64 else v.tolist()}
                for i, v in enumerate(vectors)]
        return JSONResponse({"object": "list", "data": data, "model": EMBEDDING_MODEL,
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def not_found(request: Request) -> Response:
        return error(404, f"Hearth's server has no route {request.method} {request.url.path}.")

    app = Starlette(routes=[
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/embeddings", embed, methods=["POST"]),
        Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    ])
    return RequireKey(app, api_key)


async def _answer(request: Request, body: dict, source: Upstream, name: str, ledger: Ledger) -> Response:
    cancel = Cancel()
    tally = Tally()
    answer_id, created = new_answer_id(), int(time.time())
    chunks = relay_chat(source, body, answer_id=answer_id, created=created, model=name, cancel=cancel, tally=tally)
    ledger.started()
    arrived = now()
    outcome = ["ok"]
    prompt_count = functools.cache(lambda: _prompt_tokens(source, body["messages"]))

    def record() -> None:
        prompt_tokens = prompt_count()
        ledger.finished(ServedRequest(arrived, _client(request), "/v1/chat/completions", name, prompt_tokens,
                                      tally.completion_tokens, time.monotonic() - tally.started, outcome[0],
                                      tally.pauses, tuple(body["messages"]), tally.text))

    if not body.get("stream"):
        def collect() -> tuple[dict, list[dict]]:
            return assemble(lambda: chunks)

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_cancel_when_gone, request, cancel)
                try:
                    message, calls = await anyio.to_thread.run_sync(collect)
                finally:
                    group.cancel_scope.cancel()
        except RelayError as exc:
            outcome[0] = f"failed: {exc.message}"
            await anyio.to_thread.run_sync(record)
            return error(exc.status, exc.message, "server_error" if exc.status >= 500 else "invalid_request_error")
        outcome[0] = "cancelled" if cancel.cancelled else "ok"
        if calls:
            message["tool_calls"] = calls
            message["content"] = message["content"] or None
        prompt_tokens = await anyio.to_thread.run_sync(prompt_count)
        await anyio.to_thread.run_sync(record)
        return JSONResponse({
            "id": answer_id, "object": "chat.completion", "created": created, "model": name,
            "choices": [{"index": 0, "message": message, "finish_reason": tally.finish_reason or "stop"}],
            "usage": _usage(prompt_tokens, tally.completion_tokens)})

    # A streamed answer: its first piece is awaited here, so a request the engine refuses gets
    # its HTTP status; after that, a failure arrives as an error event.
    try:
        first = await anyio.to_thread.run_sync(next, chunks, _END)
    except RelayError as exc:
        outcome[0] = f"failed: {exc.message}"
        chunks.close()
        await anyio.to_thread.run_sync(record)
        return error(exc.status, exc.message, "server_error" if exc.status >= 500 else "invalid_request_error")

    async def events():  # noqa: ANN202 - an async generator of SSE bytes
        item = first
        try:
            while item is not _END:
                if item is WAITING:
                    yield b": waiting for the engine\n\n"
                else:
                    yield b"data: " + json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n\n"
                item = await anyio.to_thread.run_sync(next, chunks, _END)
            if (body.get("stream_options") or {}).get("include_usage"):
                prompt_tokens = await anyio.to_thread.run_sync(prompt_count)
                usage_chunk = {"id": answer_id, "object": "chat.completion.chunk", "created": created, "model": name,
                               "choices": [], "usage": _usage(prompt_tokens, tally.completion_tokens)}
                yield b"data: " + json.dumps(usage_chunk).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"
        except RelayError as exc:
            outcome[0] = f"failed: {exc.message}"
            yield b"data: " + json.dumps({"error": {"message": exc.message, "type": "server_error"}}).encode() + b"\n\n"
        except BaseException:
            outcome[0] = "cancelled"
            raise
        finally:
            cancel.cancel()
            chunks.close()
            threading.Thread(target=record, name="served-request", daemon=True).start()

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _cancel_when_gone(request: Request, cancel: Cancel) -> None:
    while not cancel.cancelled:
        if await request.is_disconnected():
            cancel.cancel()
            return
        await anyio.sleep(0.5)


def _usage(prompt_tokens: int | None, completion_tokens: int) -> dict:
    prompt = prompt_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "total_tokens": prompt + completion_tokens}


def _prompt_tokens(source: Upstream, messages: list) -> int | None:
    """The prompt's tokens as the model's template frames it (the host counts without waiting)."""
    return host_count(source, "/hearth/tokenize/chat", {"messages": messages}, lambda reply: reply["count"])


async def _json_body(request: Request) -> dict | Response:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return error(413, f"The request is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.")
    raw = bytearray()
    async for piece in request.stream():
        raw += piece
        if len(raw) > MAX_BODY_BYTES:
            return error(413, f"The request is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.")
    try:
        body = json.loads(raw)
    except ValueError:
        return error(400, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object.")
    return body


def _chat_problem(body: dict) -> str:
    """Why the request cannot be answered as asked ('' when it can)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list."
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return "Each message must be an object with a 'role'."
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    return "Each part of a message's content must be an object."
                if part.get("type") == "image_url":
                    url = (part.get("image_url") or {}).get("url") if isinstance(part.get("image_url"), dict) else part.get("image_url")
                    if not isinstance(url, str) or not url.startswith("data:image/"):
                        return "Images must be sent inline as data:image/… URIs; Hearth fetches nothing on an app's behalf."
        elif content is not None and not isinstance(content, str):
            return "A message's content must be text or a list of parts."
    if body.get("n") not in (None, 1):
        return "Hearth answers one choice per request ('n' must be 1)."
    return ""


def _client(request: Request) -> str:
    where = f"{request.client.host}:{request.client.port}" if request.client else "?"
    agent = request.headers.get("user-agent", "")
    return f"{where} {agent}".strip()
