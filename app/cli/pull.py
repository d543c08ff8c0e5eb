"""`hearth models pull OWNER/REPO [FILE]`: download a GGUF (and its projector) from Hugging Face.

Without FILE, picks what the catalog would: a Q4_K_M if the repo has one, else the smallest
model file, and says which. Progress goes to stderr; any failure is one line and exit code 2.
Ctrl-C pauses: the bytes so far are kept and the same command resumes.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from engine.models.download import DownloadCancelled, Downloader, DownloadPaused, DownloadProgress
from engine.models.hub import HubClient, HubError, parse_repo_ref, pick_default_file, pick_projector
from engine.models.records import human_size

EXIT_FAILED = 2
EXIT_INTERRUPTED = 130


def add_parser(models_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = models_subparsers.add_parser(
        "pull", help="download a GGUF model from Hugging Face",
        description="Download a GGUF model from Hugging Face into Hearth's models folder "
                    "(resumes an interrupted download, verifies the checksum).",
    )
    parser.add_argument("repo", metavar="OWNER/REPO", help="a repo id or a huggingface.co link")
    parser.add_argument("file", metavar="FILE", nargs="?", help="which .gguf file (default: Q4_K_M or smallest)")
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)  # a mirror or a test hub
    parser.add_argument("--models-dir", type=Path, help=argparse.SUPPRESS)
    parser.set_defaults(func=run_pull)
    return parser


def run_pull(args: argparse.Namespace, *, err: TextIO | None = None) -> int:
    err = err or sys.stderr
    bar = _ProgressBar(err)
    try:
        return _pull(args, err, bar)
    except (KeyboardInterrupt, DownloadPaused):
        bar.finish()
        print("Paused: run the same command again to resume.", file=err)
        return EXIT_INTERRUPTED
    except DownloadCancelled as e:
        bar.finish()
        print(str(e), file=err)
        return EXIT_INTERRUPTED
    except HubError as e:
        bar.finish()
        print(f"hearth: {e}", file=err)
        return EXIT_FAILED
    except OSError as e:
        bar.finish()
        print(f"hearth: {e.strerror or e}", file=err)
        return EXIT_FAILED


def _pull(args: argparse.Namespace, err: TextIO, bar: "_ProgressBar") -> int:
    repo_id, file_in_ref = parse_repo_ref(args.repo)
    filename = args.file or file_in_ref
    client = HubClient(endpoint=args.endpoint)
    projector: str | None = None
    files = client.list_gguf_files(repo_id)
    if filename is None:
        choice = pick_default_file(files)
        if choice is None:
            print(f"hearth: {repo_id} has no GGUF model files.", file=err)
            return EXIT_FAILED
        filename = choice.name
        size = f" ({human_size(choice.size)})" if choice.size else ""
        print(f"Choosing {filename}{size}; name a file to get another.", file=err)
    if not filename.lower().endswith(".gguf"):
        print(f"hearth: {filename} is not a GGUF file; Hearth runs .gguf models.", file=err)
        return EXIT_FAILED
    chosen = next((f for f in files if f.name == filename), None)
    if chosen is not None and not chosen.is_mmproj:
        proj = pick_projector(files)
        if proj is not None:
            projector = proj.name
            print(f"This is a vision model: also getting its projector {projector}.", file=err)

    downloader = Downloader(args.models_dir or _default_models_dir(), client)
    if projector:
        model_path, projector_path = downloader.download_with_projector(repo_id, filename, projector, progress=bar)
        bar.finish()
        print(f"Saved {model_path}\nSaved {projector_path}", file=err)
    else:
        model_path = downloader.download(repo_id, filename, progress=bar)
        bar.finish()
        print(f"Saved {model_path}", file=err)
    return 0


def _default_models_dir() -> Path:
    from app.paths import models_dir

    return models_dir()


class _ProgressBar:
    """One rewritten stderr line: bar, bytes, speed, ETA; at most ~8 redraws a second."""

    WIDTH = 24

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._last = 0.0
        self._drawn = False

    def finish(self) -> None:
        """End the progress line (if one was drawn) so the next message starts clean."""
        if self._drawn:
            self.out.write("\n")
            self.out.flush()
            self._drawn = False

    def __call__(self, p: DownloadProgress) -> None:
        now = time.monotonic()
        if now - self._last < 0.12 and p.done < p.total:
            return
        self._last = now
        filled = int(self.WIDTH * p.fraction)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        speed = f"{human_size(p.speed_bps)}/s" if p.speed_bps else "…"
        eta = _clock(p.eta_s) if p.eta_s is not None else "--:--"
        line = (f"\r{p.filename[:32]} [{bar}] {p.fraction * 100:5.1f}% "
                f"{human_size(p.done)}/{human_size(p.total)} {speed} ETA {eta}")
        self.out.write(line.ljust(100))
        self.out.flush()
        self._drawn = True


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    h, rem = divmod(s, 3600)
    return f"{h}:{rem // 60:02d}:{rem % 60:02d}" if h else f"{rem // 60}:{rem % 60:02d}"

