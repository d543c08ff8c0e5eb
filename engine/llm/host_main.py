"""The engine host process: llama-cpp-python's OpenAI-compatible server, started by Hearth.

Run as `python -m engine.llm.host_main` (or the frozen app with `--engine-host`). Its settings,
API key included, come from a JSON file named by HEARTH_ENGINE_CONFIG — never the command
line, where any local user could read the key. The file is deleted once read.

It dies with its parent: stdin is a pipe from Hearth and EOF means Hearth is gone (the kernel
closes the pipe of a SIGKILLed parent too). PR_SET_PDEATHSIG is deliberately not used: it fires
when the *thread* that started the child exits, and Hearth starts engines from pool threads.
"""
from __future__ import annotations

import json
import os
import queue
import socket
import sys
import threading
from collections import deque
from pathlib import Path


def _die_with_parent() -> None:
    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(1):
                pass
        except (OSError, ValueError):
            pass
        os._exit(0)

    threading.Thread(target=watch_stdin, name="parent-watch", daemon=True).start()


PACE_S = 0.05  # after the first words, send what is ready about 20 times a second; see read_ahead


class _Handoff:
    """Chunks from the producer thread to the event loop, waking the loop only when it is worth it:
    for any chunk while the consumer idles, and otherwise only for the end of the stream."""

    def __init__(self, loop) -> None:  # noqa: ANN001 - an asyncio loop
        self.loop = loop
        self.lock = threading.Lock()
        self.items: deque = deque()
        self.finished = False
        self.error: BaseException | None = None
        self.waiter = None
        self.wake_on_item = False

    def put(self, item) -> None:  # noqa: ANN001
        with self.lock:
            self.items.append(item)
            waiter = self._claim_waiter(self.wake_on_item)
        self._wake(waiter)

    def finish(self, error: BaseException | None = None) -> None:
        with self.lock:
            self.finished, self.error = True, error
            waiter = self._claim_waiter(True)
        self._wake(waiter)

    def _claim_waiter(self, wanted: bool):  # noqa: ANN202 - called with the lock held
        waiter = self.waiter if wanted else None
        if waiter is not None:
            self.waiter = None
        return waiter

    def _wake(self, waiter) -> None:  # noqa: ANN001
        if waiter is not None:
            self.loop.call_soon_threadsafe(_resolve, waiter)

    async def take(self, not_before: float) -> tuple[list, bool]:
        """(everything ready, whether the stream has ended), once `not_before` (loop time) has
        come with something to send, or the stream has ended."""
        while True:
            with self.lock:
                now = self.loop.time()
                if self.finished or (self.items and now >= not_before):
                    items = list(self.items)
                    self.items.clear()
                    return items, self.finished
                waiter = self.loop.create_future()
                self.waiter = waiter
                self.wake_on_item = now >= not_before
            timer = None if now >= not_before else self.loop.call_later(not_before - now, _resolve, waiter)
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
                with self.lock:
                    if self.waiter is waiter:
                        self.waiter = None


def _resolve(future) -> None:  # noqa: ANN001
    if not future.done():
        future.set_result(None)


def _delta_text(chunk) -> str | None:  # noqa: ANN001
    """The text of a plain streamed chunk (chat or completion), or None for anything else."""
    if not isinstance(chunk, dict) or chunk.get("object") not in ("chat.completion.chunk", "text_completion"):
        return None
    choices = chunk.get("choices")
    if not isinstance(choices, list) or len(choices) != 1 or choices[0].get("logprobs") is not None:
        return None
    choice = choices[0]
    if chunk["object"] == "text_completion":
        return choice.get("text") if isinstance(choice.get("text"), str) else None
    delta = choice.get("delta")
    if not isinstance(delta, dict) or set(delta) - {"role", "content"}:
        return None
    return delta.get("content") or ""


def merge_chunks(chunks: list) -> list:
    """Fold consecutive plain text chunks into one: same text, fewer events to encode and send.
    A chunk carrying anything else (logprobs, tool calls) is passed on untouched."""
    merged: list = []
    for chunk in chunks:
        text = _delta_text(chunk)
        last = merged[-1] if merged else None
        if (text is not None and last is not None and _delta_text(last) is not None
                and last["object"] == chunk["object"] and last["choices"][0].get("finish_reason") is None
                and "role" not in (chunk["choices"][0].get("delta") or {})):
            choice = dict(last["choices"][0])
            if chunk["object"] == "text_completion":
                choice["text"] = choice["text"] + text
            else:
                choice["delta"] = {**choice["delta"], "content": (choice["delta"].get("content") or "") + text}
            choice["finish_reason"] = chunk["choices"][0].get("finish_reason")
            merged[-1] = {**last, "choices": [choice]}
        else:
            merged.append(chunk)
    return merged


class _DecodeThread:
    """One long-lived thread runs every answer's token loop. llama.cpp's OpenMP team belongs to
    the thread that calls it, so a fresh thread per answer built a new team (and a new malloc
    arena) each time: over 3 x 15-30 paired rounds here a fresh thread decoded at 0.956 of the raw
    library on average, this one at 0.979. Answers never overlap (llama_cpp.server holds a lock
    per model, and read_ahead waits for its loop to end), so one thread is enough."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, job) -> threading.Event:  # noqa: ANN001 - a callable
        """Queue `job`; the event is set once it has finished."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="token-producer", daemon=True)
                self._thread.start()
        done = threading.Event()
        self._jobs.put((job, done))
        return done

    def _serve(self) -> None:
        while True:
            job, done = self._jobs.get()
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - the thread must outlive one answer's failure
                print(f"hearth engine host: an answer's decode loop failed: {exc!r}", file=sys.stderr, flush=True)
            finally:
                done.set()


_DECODE_THREAD = _DecodeThread()


async def read_ahead(iterator, depth: int = 256, pace_s: float = PACE_S):
    """Stream a blocking token iterator from the decode thread, running ahead of the network.

    llama_cpp.server pulls each token with starlette's `iterate_in_threadpool`: one thread hop per
    token, and llama.cpp waits idle while the event loop encodes and sends the previous one
    (measured here: ~1.5 ms a token, 8–14 % of decode speed). This producer thread decodes
    continuously. The consumer sends the first words at once, then what is ready about 20 times a
    second, folded into one chunk: on a small machine every wake-up of the event loop and of the
    client steals time from llama.cpp's threads (measured here: ~0.8 ms of the loop's CPU and
    ~0.35 ms of the client's per chunk; at 30 a second that was ~4 % of a core, at 20 about 2.5 %).
    Twenty updates a second still reads as smooth; the first words are never held back. A last
    chunk reports `usage.completion_tokens` (the number of chunks llama.cpp produced), since chunks
    no longer count tokens.
    Stopping (the client left) waits for the token being decoded, so the model is never used by
    two requests at once.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    handoff = _Handoff(loop)
    room = threading.Semaphore(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in iterator:
                if stop.is_set():
                    break
                room.acquire()
                handoff.put(item)
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            handoff.finish(exc)
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:  # noqa: BLE001 - the answer is over either way
                    print(f"hearth engine host: closing an answer failed: {exc!r}", file=sys.stderr, flush=True)
        handoff.finish()

    produced_all = _DECODE_THREAD.run(produce)
    produced = 0
    last_text_chunk = None
    not_before = 0.0
    try:
        while True:
            chunks, ended = await handoff.take(not_before)
            for _ in chunks:
                room.release()
            for chunk in chunks:
                if _delta_text(chunk):
                    produced += 1
                    last_text_chunk = chunk
            for chunk in merge_chunks(chunks):
                yield chunk
            if ended:
                if handoff.error is not None:
                    raise handoff.error
                if last_text_chunk is not None:
                    yield {"id": last_text_chunk.get("id"), "object": last_text_chunk["object"],
                           "created": last_text_chunk.get("created"), "model": last_text_chunk.get("model"),
                           "choices": [], "usage": {"completion_tokens": produced}}
                return
            if produced:
                not_before = loop.time() + pace_s
    finally:
        stop.set()
        room.release()
        # Shielded: a client that disconnects cancels this task, and an unshielded wait would
        # return at once, releasing the model's lock while the producer still decodes a token;
        # the next request would then use the model concurrently (a native crash).
        import anyio

        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(produced_all.wait)


def _read_config() -> dict:
    path = Path(os.environ.pop("HEARTH_ENGINE_CONFIG"))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    finally:
        path.unlink(missing_ok=True)


ENGINE_NICENESS = 4  # the window's thread must win the CPU when it wakes; see _yield_to_the_ui


def _yield_to_the_ui() -> None:
    """Run a little below normal priority. llama.cpp keeps every core busy while it answers; at
    equal priority the GUI thread waits its turn behind it (10-60 ms stalls on 2 cores). Alone on
    the machine the engine still gets all of it."""
    if hasattr(os, "nice"):
        try:
            os.nice(ENGINE_NICENESS)
        except OSError:
            pass


def _tokenize_by_prefix() -> None:
    """Every model the server loads tokenizes a prompt that begins like a recent one by its new
    end only (engine/llm/prefix_tokens.py): the whole conversation is re-sent on every turn."""
    from llama_cpp.server.model import LlamaProxy

    from engine.llm import prefix_tokens

    load = LlamaProxy.load_llama_from_model_settings

    def load_and_install(settings):  # noqa: ANN001, ANN202
        llama = load(settings)
        prefix_tokens.install(llama)
        return llama

    LlamaProxy.load_llama_from_model_settings = staticmethod(load_and_install)


def _parse_native_tool_calls() -> None:
    """Answers offered tools come back with the model's own call syntax as OpenAI `tool_calls`
    (engine/llm/native_tool_calls.py). llama_cpp.server looks the method up per request."""
    import llama_cpp

    from engine.llm.native_tool_calls import wrap

    llama_cpp.Llama.create_chat_completion = wrap(llama_cpp.Llama.create_chat_completion)


def _continue_final_message() -> None:
    """A request ending with the assistant's turn goes on from its words (engine/llm/continue_message.py)."""
    from engine.llm import continue_message

    continue_message.install()


def main() -> None:
    _die_with_parent()
    _yield_to_the_ui()
    config = _read_config()
    import uvicorn
    import llama_cpp.server.app as server_app
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    server_app.iterate_in_threadpool = read_ahead
    _tokenize_by_prefix()
    _parse_native_tool_calls()
    _continue_final_message()
    server_settings = ServerSettings(host="127.0.0.1", port=0, api_key=config["api_key"], interrupt_requests=True)
    model_settings = ModelSettings(**config["model"])
    app = create_app(server_settings=server_settings, model_settings=[model_settings])  # loads the model
    from engine.llm.host_routes import add_hearth_routes

    add_hearth_routes(app)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    ready = Path(config["ready_file"])
    tmp = ready.with_suffix(".tmp")
    tmp.write_text(str(port), encoding="utf-8")
    os.replace(tmp, ready)
    print(f"hearth engine host listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
