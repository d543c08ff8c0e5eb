"""`hearth models list` and `hearth models inspect FILE`: the model library from a terminal.

Failures print one line on stderr and exit with code 2; a traceback is never shown.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 2

SubcommandAdder = Callable[[Any], None]


def add_parser(subparsers: Any, *, extra_commands: Iterable[SubcommandAdder] = ()) -> None:
    """Register `models` with its subcommands; `extra_commands` lets other modules add theirs (pull)."""
    models = subparsers.add_parser("models", help="list and inspect the models Hearth can use")
    commands = models.add_subparsers(dest="models_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="every model found on this computer")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=run_list)

    inspect = commands.add_parser("inspect", help="what a GGUF file holds, read from its header")
    inspect.add_argument("file", type=Path, metavar="FILE")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.set_defaults(func=run_inspect)

    for add in extra_commands:
        add(commands)


def _fail(message: str) -> int:
    print(f"hearth: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_FAILED


def _guarded(work: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from engine.models.gguf_info import InvalidModelError

        try:
            return work(args)
        except InvalidModelError as exc:
            return _fail(str(exc))
        except KeyboardInterrupt:
            return _fail("interrupted")
        except BrokenPipeError:
            return EXIT_FAILED
        except Exception as exc:  # the CLI's last line of defence: one sentence, no traceback
            return _fail(f"{type(exc).__name__}: {exc}")

    run.__name__ = work.__name__
    run.__doc__ = work.__doc__
    return run


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"


def _params(n: int) -> str:
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


@_guarded
def run_list(args: argparse.Namespace) -> int:
    """List every model Hearth finds, usable or not."""
    from app.paths import models_dir
    from engine.models.library import ModelLibrary

    entries = ModelLibrary(models_dir()).scan()
    if args.json:
        rows = []
        for e in entries:
            info = _jsonable(e.info) if e.info else None
            if info:
                info["has_chat_template"] = info.pop("chat_template") is not None
            rows.append({"source": e.source, "name": e.display_name, "path": str(e.path),
                         "usable": e.usable, "error": e.error, "info": info})
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not entries:
        print("No models found.")
        return EXIT_OK
    for e in entries:
        if e.info is not None:
            i = e.info
            details = [i.architecture, _params(i.parameter_count), i.quantization, _size(i.file_size)]
            if i.context_length:
                details.append(f"ctx {i.context_length}")
            if i.has_vision:
                details.append("vision")
            print(f"{e.source:<12} {e.display_name}  ({', '.join(details)})")
        else:
            print(f"{e.source:<12} {e.display_name}  (unusable: {e.error})")
        print(f"{'':<12} {e.path}")
    return EXIT_OK


@_guarded
def run_inspect(args: argparse.Namespace) -> int:
    """Describe one GGUF file without loading it."""
    from engine.models.gguf_info import inspect_gguf

    info = inspect_gguf(args.file.expanduser())
    if args.json:
        print(json.dumps(_jsonable(info), indent=2))
        return EXIT_OK
    rows = [
        ("Name", info.name),
        ("Kind", "vision projector (mmproj)" if info.is_projector else "chat model"),
        ("Architecture", info.architecture),
        ("Parameters", _params(info.parameter_count)),
        ("Quantization", info.quantization),
        ("File size", _size(info.file_size)),
        ("Context length", str(info.context_length) if info.context_length else "not stated"),
        ("Chat template", "yes" if info.chat_template else "no"),
        ("Vision", f"yes ({info.mmproj_path})" if info.has_vision else "no"),
        ("Tools", "yes" if info.supports_tools else "no"),
        ("Reasoning", "yes" if info.supports_reasoning else "no"),
    ]
    for label, value in rows:
        print(f"{label + ':':<16}{value}")
    return EXIT_OK
