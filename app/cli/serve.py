"""`hearth serve`: the local server for other apps, without a window.

The first line on stdout, once it answers, is `Serving http://127.0.0.1:P/v1 key KEY` (flushed, so
a script reading a pipe can start at once); each request then gets one line on stderr. Ctrl+C or
SIGTERM stops the server and its engine host."""
from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

DEFAULT_PORT = 4891


def add_parser(subparsers) -> None:
    serve = subparsers.add_parser("serve", help="serve the model to other apps (OpenAI-compatible, with an API key)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--model", type=Path, help="a GGUF model file (default: the bundled starter model)")
    serve.add_argument("--api-key", default="", help="the key apps must send (default: a new random key, printed)")
    serve.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    serve.add_argument("--threads", type=int, default=0, help="CPU threads (default: one per core)")
    serve.add_argument("--listen-all", action="store_true",
                       help="accept connections from other computers too (default: this computer only)")
    serve.set_defaults(func=run_serve)


def run_serve(args) -> int:
    from app.cli import fail
    from engine.llm.endpoint import ModelNotUsable, local_plan, open_endpoint
    from engine.llm.host import EngineError
    from engine.models.starter import starter_llm_path
    from engine.server.front import create_front
    from engine.server.keys import new_key
    from engine.server.ledger import Ledger, ServedRequest
    from engine.server.relay import Upstream
    from engine.server.serve import LocalServer, ServerError

    if not 0 <= args.port <= 65535 or args.ctx < 256:
        return fail("--port must be 0-65535 and --ctx ≥ 256")
    key = args.api_key or new_key()
    if len(key) < 8:
        return fail("--api-key must be at least 8 characters")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    model = args.model or starter_llm_path()
    if model is None:
        return fail("no model given and the starter model is not installed; pass --model FILE.gguf")
    try:
        plan = local_plan(Path(model), n_ctx=args.ctx, n_threads=args.threads or None)
        endpoint = open_endpoint(plan, log_dir=_log_dir(), on_death=lambda why: print(f"hearth serve: {why}", file=sys.stderr, flush=True))
    except (ModelNotUsable, EngineError) as exc:
        return fail(str(exc))
    host = endpoint.host
    name = Path(model).name

    def upstream() -> Upstream | None:
        if not host.is_alive() or host.port is None:
            return None
        return Upstream(host.base_url, host.api_key, name, host.turns)

    def log(record: ServedRequest) -> None:
        print(f"{record.client.split(' ')[0]} {record.path} {record.model} "
              f"{record.prompt_tokens or 0}+{record.completion_tokens} tokens {record.seconds:.1f} s {record.outcome}",
              file=sys.stderr, flush=True)

    server = LocalServer(create_front(upstream, api_key=lambda: key, ledger=Ledger(on_change=log)),
                         port=args.port, all_interfaces=args.listen_all)
    try:
        server.start()
    except ServerError as exc:
        endpoint.close()
        return fail(str(exc))
    try:
        if args.listen_all:
            print("hearth serve: listening on all network interfaces: other computers that know the key "
                  "can use this model", file=sys.stderr, flush=True)
        print(f"Serving {server.base_url} key {key}", flush=True)
        while not stop.wait(0.5):
            if not host.is_alive():
                try:
                    host.start()
                    print("hearth serve: the engine was restarted", file=sys.stderr, flush=True)
                except EngineError as exc:
                    print(f"hearth serve: the engine cannot restart: {exc}", file=sys.stderr, flush=True)
                    return 1
    finally:
        server.stop()
        endpoint.close()
    return 0


def _log_dir() -> Path:
    from app import paths

    return paths.logs_dir()
