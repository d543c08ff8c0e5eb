"""`hearth ask "PROMPT"`: streams an answer to stdout through the same engine host as the window."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    ask = subparsers.add_parser("ask", help="ask the model one question and stream the answer")
    ask.add_argument("prompt", help="what to ask")
    ask.add_argument("--model", type=Path, help="a GGUF model file (default: the bundled starter model)")
    ask.add_argument("--system", default="", help="a system prompt")
    ask.add_argument("--image", type=Path, action="append", default=[], help="an image to send (vision models)")
    ask.add_argument("--mmproj", type=Path, help="the vision projector for --model (found beside it by default)")
    ask.add_argument("--max-tokens", type=int, default=512)
    ask.add_argument("--temperature", type=float, default=0.7)
    ask.add_argument("--seed", type=int)
    ask.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    ask.add_argument("--server", help="an OpenAI-compatible base URL to use instead of a local model")
    ask.add_argument("--api-key", default="", help="key for --server")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of streaming text")
    ask.set_defaults(func=run_ask)


def _fail(message: str) -> int:
    from app.cli import fail

    return fail(message)


def run_ask(args) -> int:
    from engine.llm.client import ChatClient, ChatError, Sampling, StreamFinished, TextDelta
    from engine.llm.host import EngineError, EngineHost, HostConfig

    if args.max_tokens < 1 or not 0 <= args.temperature <= 2 or args.ctx < 256:
        return _fail("--max-tokens must be ≥ 1, --temperature between 0 and 2, --ctx ≥ 256")
    content: str | list = args.prompt
    images = []
    for path in args.image:
        try:
            from engine.vision.intake import prepare_image

            images.append(prepare_image(path))
        except ImportError:
            return _fail("image support is not installed")
        except Exception as exc:  # noqa: BLE001 - ImageIntakeError names the file
            return _fail(str(exc))
    if images:
        content = [{"type": "text", "text": args.prompt}] + [
            {"type": "image_url", "image_url": {"url": image.data_uri}} for image in images]
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": content}]

    host = None
    try:
        if args.server:
            client = ChatClient(args.server, args.api_key, model="default")
            names = client.list_models()
            if names:
                client.model = names[0]
            label = client.model
        else:
            model, mmproj, chat_format = _resolve_model(args, bool(images))
            from app.main_window_controller import gpu_layers

            host = EngineHost(HostConfig(model_path=model, mmproj_path=mmproj, chat_format=chat_format,
                                         n_ctx=args.ctx, n_gpu_layers=gpu_layers(-1), seed=args.seed),
                              log_dir=_log_dir())
            host.start()
            client = ChatClient(host.base_url, host.api_key, model=model.name)
            label = model.name
        text = ""
        finished = None
        sampling = Sampling(temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed)
        for event in client.stream(messages, sampling):
            if isinstance(event, TextDelta):
                text += event.text
                if not args.json:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
            elif isinstance(event, StreamFinished):
                finished = event
        if args.json:
            print(json.dumps({"model": label, "text": text,
                              "completion_tokens": finished.completion_tokens if finished else 0,
                              "tokens_per_second": round(finished.tokens_per_second, 2) if finished else 0,
                              "ttft_ms": round(finished.ttft_ms, 1) if finished else 0,
                              "finish_reason": finished.finish_reason if finished else "error"}))
        else:
            sys.stdout.write("\n")
        return 0
    except (EngineError, ChatError, ValueError) as exc:
        return _fail(str(exc))
    finally:
        if host is not None:
            host.stop()


def _log_dir() -> Path:
    from app import paths

    return paths.logs_dir()


def _resolve_model(args, wants_vision: bool):
    from engine.models.starter import starter_llm_path

    model = args.model or starter_llm_path()
    if model is None:
        raise ValueError("no model given and the starter model is not installed; pass --model FILE.gguf")
    if not Path(model).is_file():
        raise ValueError(f"model file not found: {model}")
    mmproj = args.mmproj
    chat_format = None
    try:
        from engine.models.gguf_info import InvalidModelError, inspect_gguf
    except ImportError:
        return Path(model), mmproj, None
    try:
        info = inspect_gguf(Path(model))
    except InvalidModelError as exc:
        raise ValueError(f"{Path(model).name} is not a usable model: {exc}") from None
    mmproj = mmproj or getattr(info, "mmproj_path", None)
    if wants_vision and not mmproj:
        raise ValueError(f"{Path(model).name} cannot see images (no vision projector); "
                         "use a vision model such as Qwen2.5-VL or Gemma 3 with its mmproj file")
    if mmproj:
        try:
            from engine.llm.vision_format import chat_format_for

            chat_format = chat_format_for(info, mmproj)
        except ImportError:
            chat_format = "mtmd"
    return Path(model), Path(mmproj) if mmproj else None, chat_format
