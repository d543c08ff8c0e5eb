"""`hearth` — the window with no arguments; `ask`, `models`, `transcribe` through the same engine.

Every failure is one line on stderr and exit code 2, never a traceback."""
from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # noqa: D401 - argparse override
        self.exit(EXIT_USAGE, f"hearth: {message} (see hearth --help)\n")


def fail(message: str) -> int:
    print(f"hearth: {message}", file=sys.stderr)
    return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="hearth", description="Private chat with local language models.")
    sub = parser.add_subparsers(dest="command", parser_class=OneLineParser)
    from app.cli.ask import add_parser as add_ask

    add_ask(sub)
    from app.cli import models, pull, transcribe

    models.add_parser(sub, extra_commands=[pull.add_parser])
    transcribe.add_parser(sub)
    from app.cli import chats

    chats.add_parser(sub)
    from app.cli import knowledge

    knowledge.add_parser(sub)
    from app.cli import assistants

    assistants.add_parser(sub)
    from app.cli import speak

    speak.add_parser(sub)
    from app.cli import serve

    serve.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--engine-host"]:  # the frozen app re-invoked as its own engine host
        from engine.llm.host_main import main as host_main

        host_main()
        return 0
    if argv[:1] == ["--espeak-worker"]:  # the frozen app re-invoked as its speech worker (GPL library, own process)
        from engine.speech.espeak_worker import main as worker_main

        return worker_main()
    if not argv or argv[0].startswith("-qt") or argv[0] in ("--gui",):
        from app.gui.start import run_gui

        return run_gui([sys.argv[0], *argv])
    args = build_parser().parse_args(argv)
    if not getattr(args, "func", None):
        from app.gui.start import run_gui

        return run_gui([sys.argv[0]])
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the promise: one line, never a traceback
        return fail(str(exc) or exc.__class__.__name__)


if __name__ == "__main__":
    sys.exit(main())
