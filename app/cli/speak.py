"""`hearth speak "TEXT"`: say text aloud, or write it to a WAV file, with the offline espeak-ng voice.

TEXT is read as markdown and cleaned first (engine/speech/spoken_text.py), so an answer pasted
from a chat is spoken the way a person would read it, not symbol by symbol. Playback uses the
first player that works: paplay, aplay, afplay (macOS), winsound (Windows), sounddevice.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import BinaryIO


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("speak", help="say text aloud (markdown read as a person would), or save it as WAV",
                                   description="Speak text with the offline espeak-ng voice.")
    parser.add_argument("text", nargs="?", metavar="TEXT", help='what to say (markdown is fine); "-" reads standard input')
    parser.add_argument("--voice", default=None, metavar="NAME", help="voice name or language code (default: en-us)")
    parser.add_argument("--rate", type=int, default=None, metavar="N", help="words a minute, 80-450 (default: 175)")
    parser.add_argument("--volume", type=int, default=None, metavar="N", help="percent, 0-200 (default: 100)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE.wav", help="write a 16-bit WAV file instead of playing")
    parser.add_argument("--skip-code", action="store_true", help="leave code blocks out (default: say 'code block, N lines')")
    parser.add_argument("--list-voices", action="store_true", help="list the voices and exit")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from app.cli import fail
    from engine.speech.spoken_text import spoken_sentences
    from engine.speech.synthesis import DEFAULT_RATE, DEFAULT_VOICE, DEFAULT_VOLUME, SpeechSynthesizer, SynthesisError

    try:
        synthesizer = SpeechSynthesizer()
    except SynthesisError as exc:
        return fail(str(exc))
    try:
        if args.list_voices:
            for voice in synthesizer.voices():
                print(f"{voice.language:<12} {voice.name:<32} {voice.identifier}")
            return 0
        if args.text is None:
            return fail("speak needs TEXT to say (or --list-voices)")
        text = sys.stdin.read() if args.text == "-" else args.text
        sentences = spoken_sentences(text, code_blocks="skip" if args.skip_code else "describe")
        if not sentences:
            return fail("there is nothing to say in that text")
        voice = args.voice or DEFAULT_VOICE
        rate = DEFAULT_RATE if args.rate is None else args.rate
        volume = DEFAULT_VOLUME if args.volume is None else args.volume
        audio = list(synthesizer.speak_sentences(sentences, voice, rate, volume))
    except SynthesisError as exc:
        return fail(str(exc))
    finally:
        synthesizer.close()
    pcm, sample_rate = b"".join(a.pcm for a in audio), audio[0].sample_rate
    if args.out is not None:
        try:
            write_wav(args.out, pcm, sample_rate)
        except OSError as exc:
            return fail(f"could not write {args.out}: {exc.strerror or exc}")
        return 0
    problem = play(pcm, sample_rate)
    if problem:
        return fail(f"no audio output to play on ({problem}); use --out FILE.wav to save the speech instead")
    return 0


def write_wav(target: Path | BinaryIO, pcm: bytes, sample_rate: int) -> None:
    if isinstance(target, Path):
        with target.open("wb") as file:  # opened here: wave.open on a bad path leaves a noisy half-object
            return write_wav(file, pcm, sample_rate)
    with wave.open(target, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)


def play(pcm: bytes, sample_rate: int) -> str | None:
    """Play 16-bit mono PCM on the first player that works; None, or why nothing could."""
    tried: list[str] = []
    timeout = 30 + len(pcm) / 2 / sample_rate
    raw_players = {
        "paplay": ["paplay", "--raw", "--format=s16le", f"--rate={sample_rate}", "--channels=1"],
        "aplay": ["aplay", "-q", "-t", "raw", "-f", "S16_LE", "-r", str(sample_rate), "-c", "1", "-"],
    }
    for name, command in raw_players.items():
        if shutil.which(name):
            why = _run_player(command, pcm, timeout)
            if why is None:
                return None
            tried.append(f"{name}: {why}")
    if shutil.which("afplay"):
        with tempfile.TemporaryDirectory(prefix="hearth-speak-") as folder:
            wav = Path(folder) / "speech.wav"
            write_wav(wav, pcm, sample_rate)
            why = _run_player(["afplay", str(wav)], b"", timeout)
            if why is None:
                return None
            tried.append(f"afplay: {why}")
    if sys.platform == "win32":
        import io
        import winsound

        buffer = io.BytesIO()
        write_wav(buffer, pcm, sample_rate)
        try:
            winsound.PlaySound(buffer.getvalue(), winsound.SND_MEMORY)
            return None
        except RuntimeError as exc:
            tried.append(f"winsound: {exc}")
    try:
        import numpy as np
        import sounddevice
    except (ImportError, OSError):
        pass
    else:
        try:
            sounddevice.play(np.frombuffer(pcm, dtype="<i2"), sample_rate, blocking=True)
            return None
        except Exception as exc:  # noqa: BLE001 - PortAudio raises its own types
            tried.append(f"sounddevice: {exc}")
    return "; ".join(tried) or "no player found: paplay, aplay, afplay or sounddevice"


def _run_player(command: list[str], pcm: bytes, timeout: float) -> str | None:
    try:
        done = subprocess.run(command, input=pcm, capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"
