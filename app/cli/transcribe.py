"""`hearth transcribe FILE`: speech in an audio file to text on stdout (no window needed).

Registered on the main CLI with `add_parser(subparsers)`; also runs alone as
`python -m app.cli.transcribe FILE`. Failures are one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_FAILED = 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("transcribe", help="write down the speech in an audio file (wav, flac, mp3, ogg)",
                                   description="Transcribe speech in an audio file with the local Whisper model.")
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="audio file: wav, flac, mp3, ogg…")
    parser.add_argument("--model", type=Path, default=None, metavar="PATH",
                        help="faster-whisper model folder (default: the bundled tiny.en)")
    parser.add_argument("--language", default=None, metavar="XX",
                        help="spoken language code, e.g. de (default: detect; English-only models ignore it)")


def run(args: argparse.Namespace) -> int:
    from engine.speech import SpeechError, Transcriber

    try:
        transcript = Transcriber(args.model, language=args.language).transcribe(args.file)
    except SpeechError as exc:
        print(f"hearth transcribe: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(transcript.text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hearth")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["transcribe", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
