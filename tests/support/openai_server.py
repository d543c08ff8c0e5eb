"""A scripted OpenAI-compatible server over real HTTP on 127.0.0.1: what a remote vLLM, Ollama
or llama.cpp server looks like to Hearth, with replies the test decides.

`server.replies` is a list of replies answered in turn: a text (streamed word by word), or
`{"tool_calls": [{"name": ..., "arguments": {...}}], "content": "optional words first"}` for a
structured call, or `{"reasoning": ..., "content": ..., "field": "reasoning_content"}` for a thought
sent apart from the answer (its arguments streamed in two pieces, as servers do), or
`{"endless_thought": "word", "field": None or "reasoning_content"}` for a thought that never ends
(streamed until the client hangs up), or `{"stall_after": "words"}` for a server that sends some
words and then goes quiet with the connection open (until the client hangs up or the test ends).
`server.requests` keeps
every chat request's JSON body so a test can see exactly what Hearth sent.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedServer:
    def __init__(self, models: list[str], api_key: str = "") -> None:
        self.models = models
        self.api_key = api_key
        self.replies: list[str] = []
        self.requests: list[dict] = []
        self.stopping = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_port}/v1"

    def _next_reply(self) -> str | dict:
        return self.replies.pop(0) if self.replies else "Hello from the scripted server."

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _authorised(self) -> bool:
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._json(401, {"error": {"message": "bad key"}})
                    return False
                return True

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if not self._authorised():
                    return
                if self.path.rstrip("/") == "/v1/models":
                    self._json(200, {"object": "list", "data": [
                        {"id": name, "object": "model", "owned_by": "test"} for name in server.models]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                if not self._authorised():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._json(404, {"error": {"message": "not found"}})
                    return
                server.requests.append(body)
                reply = server._next_reply()
                model = body.get("model", "")
                if isinstance(reply, dict) and "stall_after" in reply:
                    self._stream_then_stall(reply, model)
                    return
                if isinstance(reply, dict) and "endless_thought" in reply:
                    self._stream_endless_thought(reply, model)
                    return
                if isinstance(reply, dict) and "reasoning" in reply:
                    self._stream_reasoning(reply, model)
                    return
                if isinstance(reply, dict):
                    self._stream_calls(reply, model)
                    return
                text = reply
                if not body.get("stream"):
                    self._json(200, {"id": "x", "object": "chat.completion", "model": model, "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 5, "completion_tokens": len(text.split())}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = text.split(" ")
                for i, word in enumerate(words):
                    piece = word if i == 0 else " " + word
                    self._event({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}, model)
                self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 5, "completion_tokens": len(words)}}, model)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _stream_reasoning(self, reply: dict, model: str) -> None:
                """{"reasoning": ..., "content": ..., "field": "reasoning_content" (vLLM) or "reasoning" (Ollama)}"""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                field = reply.get("field", "reasoning_content")
                for word in reply["reasoning"].split(" "):
                    self._event({"choices": [{"index": 0, "delta": {field: word + " "}, "finish_reason": None}]}, model)
                for word in reply["content"].split(" "):
                    self._event({"choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}, model)
                self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, model)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _stream_then_stall(self, reply: dict, model: str) -> None:
                """A server that stops sending mid-answer but keeps the connection open."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for word in reply["stall_after"].split(" "):
                    self._event({"choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}, model)
                self.connection.settimeout(1.0)
                while not server.stopping.is_set():
                    try:
                        if not self.connection.recv(1):  # the client hung up
                            return
                    except TimeoutError:
                        continue
                    except OSError:
                        return

            def _stream_endless_thought(self, reply: dict, model: str) -> None:
                """A model lost in thought: one token after another until Hearth hangs up."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                field = reply.get("field") or "content"
                try:
                    if field == "content":
                        self._event({"choices": [{"index": 0, "delta": {"content": "<think>"}}]}, model)
                    for _ in range(100_000):
                        self._event({"choices": [{"index": 0, "delta": {field: " " + reply["endless_thought"]},
                                                  "finish_reason": None}]}, model)
                except OSError:  # the client closed the stream: what the test wants
                    return

            def _stream_calls(self, reply: dict, model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                if reply.get("content"):
                    self._event({"choices": [{"index": 0, "delta": {"content": reply["content"]}, "finish_reason": None}]}, model)
                for index, call in enumerate(reply["tool_calls"]):
                    arguments = json.dumps(call["arguments"])
                    half = len(arguments) // 2
                    self._event({"choices": [{"index": 0, "delta": {"tool_calls": [{
                        "index": index, "id": f"call_{index}_{len(server.requests)}", "type": "function",
                        "function": {"name": call["name"], "arguments": arguments[:half]}}]}, "finish_reason": None}]}, model)
                    self._event({"choices": [{"index": 0, "delta": {"tool_calls": [{
                        "index": index, "function": {"arguments": arguments[half:]}}]}, "finish_reason": None}]}, model)
                self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
                             "usage": {"prompt_tokens": 5, "completion_tokens": 7}}, model)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _event(self, chunk: dict, model: str) -> None:
                chunk = {"id": "x", "object": "chat.completion.chunk", "model": model, **chunk}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

        return Handler

    def start(self) -> None:
        threading.Thread(target=self._http.serve_forever, name="scripted-openai", daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        self._http.shutdown()
        self._http.server_close()


@contextmanager
def scripted_server(models: list[str] | None = None, api_key: str = "") -> Iterator[ScriptedServer]:
    server = ScriptedServer(models or ["llama-3.1-8b-instruct", "qwen2.5-7b-instruct"], api_key)
    server.start()
    try:
        yield server
    finally:
        server.stop()
