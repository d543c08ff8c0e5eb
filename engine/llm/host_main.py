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
import socket
import sys
import threading
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


async def read_ahead(iterator, depth: int = 256):
    """Stream a blocking token iterator from its own thread, running ahead of the network.

    llama_cpp.server pulls each token with starlette's `iterate_in_threadpool`: one thread hop per
    token, and llama.cpp waits idle while the event loop encodes and sends the previous one
    (measured here: ~1.5 ms a token, 8–14 % of decode speed). This producer thread decodes
    continuously; the consumer sends what is ready. Stopping (the client left) waits for the
    token being decoded, so the model is never used by two requests at once.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    ready: asyncio.Queue = asyncio.Queue()
    room = threading.Semaphore(depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in iterator:
                if stop.is_set():
                    break
                room.acquire()
                loop.call_soon_threadsafe(ready.put_nowait, (item, None))
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            loop.call_soon_threadsafe(ready.put_nowait, (done, exc))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        loop.call_soon_threadsafe(ready.put_nowait, (done, None))

    producer = threading.Thread(target=produce, name="token-producer", daemon=True)
    producer.start()
    try:
        while True:
            item, error = await ready.get()
            if item is done:
                if error is not None:
                    raise error
                return
            room.release()
            yield item
    finally:
        stop.set()
        room.release()
        # Shielded: a client that disconnects cancels this task, and an unshielded wait would
        # return at once, releasing the model's lock while the producer still decodes a token;
        # the next request would then use the model concurrently (a native crash).
        import anyio

        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(producer.join)


def _read_config() -> dict:
    path = Path(os.environ.pop("HEARTH_ENGINE_CONFIG"))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    finally:
        path.unlink(missing_ok=True)


def main() -> None:
    _die_with_parent()
    config = _read_config()
    import uvicorn
    import llama_cpp.server.app as server_app
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    server_app.iterate_in_threadpool = read_ahead
    server_settings = ServerSettings(host="127.0.0.1", port=0, api_key=config["api_key"], interrupt_requests=True)
    model_settings = ModelSettings(**config["model"])
    app = create_app(server_settings=server_settings, model_settings=[model_settings])  # loads the model

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
