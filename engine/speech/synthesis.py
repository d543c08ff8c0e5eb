"""Text to speech that works offline on any machine, with no system service: espeak-ng.

espeak-ng is GPL and Hearth is MIT, so it always runs as a separate program, never inside
Hearth's process. Two ways to reach it, picked in this order:
- `program`: an `espeak-ng` executable on PATH (Debian's package, Homebrew, …), run per
  request with `--stdout`;
- `library`: the library and voice data shipped in the `espeakng-loader` wheel, loaded by
  `espeak_worker.py` in a long-lived child Python, so `pip install` alone gives a voice on
  Linux, macOS and Windows.
`HEARTH_ESPEAK=program|library` (or `engine=`) forces one; tests use it to prove both.

Audio comes back as 16-bit mono PCM (`SpeechAudio`), one sentence at a time when streaming,
so playback of the first sentence can start while the model is still writing the rest.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.cancel import Cancel
from engine.speech.spoken_text import CodeBlocks, SentenceStream

DEFAULT_VOICE = "en-us"
DEFAULT_RATE = 175       # words per minute (espeak-ng's own default)
DEFAULT_VOLUME = 100     # percent; espeak-ng accepts 0-200
RATE_RANGE = (80, 450)
ENGINE_ENV = "HEARTH_ESPEAK"
WORKER = Path(__file__).with_name("espeak_worker.py")


class SynthesisError(Exception):
    """Base for every speech-output failure; str(error) is the user-facing message."""


class NoSpeechEngine(SynthesisError):
    """Neither an espeak-ng program nor the bundled library is available."""


class UnknownVoice(SynthesisError):
    """The voice name matches none of the engine's voices."""


class SynthesisCancelled(SynthesisError):
    def __init__(self, message: str = "Speech cancelled.") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Voice:
    name: str          # "English (America)"
    language: str      # "en-us"
    identifier: str    # "gmw/en-US": what espeak-ng is told


@dataclass(frozen=True)
class SpeechAudio:
    pcm: bytes = field(repr=False)   # 16-bit signed little-endian, mono
    sample_rate: int
    text: str = ""

    @property
    def samples(self) -> np.ndarray:
        return np.frombuffer(self.pcm, dtype="<i2")

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


class SpeechSynthesizer:
    """espeak-ng behind one API, whichever way it is reached. Safe to share between threads."""

    def __init__(self, engine: str | None = None) -> None:
        choice = (engine or os.environ.get(ENGINE_ENV) or "auto").lower()
        if choice not in ("auto", "program", "library"):
            raise SynthesisError(f"Unknown speech engine '{choice}': use program, library or auto.")
        program = shutil.which("espeak-ng")
        library = importlib.util.find_spec("espeakng_loader") is not None
        if choice == "program" and not program:
            raise NoSpeechEngine("The espeak-ng program is not installed (or not on PATH).")
        if choice == "library" and not library:
            raise NoSpeechEngine("The espeakng-loader package is not installed: pip install espeakng-loader.")
        if choice == "auto" and not (program or library):
            raise NoSpeechEngine("No speech voice is available: install espeak-ng, or pip install espeakng-loader.")
        use_program = choice == "program" or (choice == "auto" and program is not None)
        self._backend: _Program | _LibraryWorker = _Program(program) if use_program else _LibraryWorker()
        self._voices: list[Voice] | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> str:
        """Which espeak-ng this is, for messages and benches."""
        return self._backend.description

    def voices(self) -> list[Voice]:
        with self._lock:
            if self._voices is None:
                self._voices = sorted(self._backend.voices(), key=lambda v: (v.language, v.name))
            return list(self._voices)

    def resolve_voice(self, voice: str) -> str:
        """A voice name, language code or identifier (optionally "+variant") → espeak's identifier."""
        base, plus, variant = voice.strip().partition("+")
        wanted = base.replace("_", " ").casefold()
        for field_name in ("identifier", "language", "name"):
            for known in self.voices():
                if getattr(known, field_name).replace("_", " ").casefold() == wanted:
                    return known.identifier + plus + variant
        raise UnknownVoice(f"There is no voice called '{voice}' (hearth speak --list-voices lists them).")

    def synthesize(self, text: str, voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE,
                   volume: int = DEFAULT_VOLUME, cancel: Cancel | None = None) -> SpeechAudio:
        """Speak `text` as given (clean markdown first with `spoken_text`)."""
        if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
            raise SynthesisError(f"The speech rate must be {RATE_RANGE[0]}-{RATE_RANGE[1]} words a minute, not {rate}.")
        if not 0 <= volume <= 200:
            raise SynthesisError(f"The volume must be 0-200 percent, not {volume}.")
        identifier = self.resolve_voice(voice)
        if cancel is not None and cancel.cancelled:
            raise SynthesisCancelled()
        if not text.strip():
            return SpeechAudio(b"", self._backend.sample_rate(), text)
        pcm, sample_rate = self._backend.say(text, identifier, rate, volume, cancel)
        return SpeechAudio(pcm, sample_rate, text)

    def speak_sentences(self, sentences: Iterable[str], voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE,
                        volume: int = DEFAULT_VOLUME, cancel: Cancel | None = None) -> Iterator[SpeechAudio]:
        """Each sentence's audio as soon as it is made (the sentences may still be arriving)."""
        for sentence in sentences:
            yield self.synthesize(sentence, voice, rate, volume, cancel)

    def speak_stream(self, deltas: Iterable[str], voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE,
                     volume: int = DEFAULT_VOLUME, cancel: Cancel | None = None,
                     code_blocks: CodeBlocks = "describe") -> Iterator[SpeechAudio]:
        """A streaming markdown answer (its text deltas) to audio, sentence by sentence."""
        return self.speak_sentences(_spoken_sentences(deltas, code_blocks), voice, rate, volume, cancel)

    def close(self) -> None:
        self._backend.close()


def _spoken_sentences(deltas: Iterable[str], code_blocks: CodeBlocks) -> Iterator[str]:
    stream = SentenceStream(code_blocks=code_blocks)
    for delta in deltas:
        yield from stream.feed(delta)
    yield from stream.flush()


class _Program:
    """The espeak-ng executable, one short-lived process per request (it starts in ~10 ms)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.description = f"espeak-ng program ({path})"

    def voices(self) -> list[Voice]:
        done = subprocess.run([self.path, "--voices"], capture_output=True, timeout=30)
        if done.returncode != 0:
            raise SynthesisError(f"espeak-ng could not list its voices: {_last_line(done.stderr)}")
        found = []
        for line in done.stdout.decode("utf-8", "replace").splitlines()[1:]:
            parts = line.split()  # Pty Language Age/Gender VoiceName File [Other Languages]
            if len(parts) >= 5:
                found.append(Voice(name=parts[3].replace("_", " "), language=parts[1], identifier=parts[4]))
        return found

    def sample_rate(self) -> int:
        return 22_050

    def say(self, text: str, voice: str, rate: int, volume: int, cancel: Cancel | None) -> tuple[bytes, int]:
        proc = subprocess.Popen([self.path, "--stdout", "-b", "1", "-v", voice, "-s", str(rate), "-a", str(volume)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if cancel is not None:
            cancel.on_cancel(proc.kill)
        out, err = proc.communicate(text.encode("utf-8"))
        if cancel is not None and cancel.cancelled:
            raise SynthesisCancelled()
        if proc.returncode != 0:
            raise SynthesisError(f"espeak-ng failed: {_last_line(err) or f'exit status {proc.returncode}'}")
        return _pcm_of_wav_stream(out)

    def close(self) -> None:
        pass


class _LibraryWorker:
    """espeakng-loader's library in one long-lived child process (see espeak_worker.py)."""

    description = "espeak-ng library from espeakng-loader (in a child process)"

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._stderr = None
        self._rate = 0
        self._lock = threading.Lock()

    def voices(self) -> list[Voice]:
        with self._lock:
            _kind, payload = self._request({"op": "voices"}, None, lambda _chunk: None)
        return [Voice(**v) for v in json.loads(payload)]

    def sample_rate(self) -> int:
        with self._lock:
            self._ensure()
            return self._rate

    def say(self, text: str, voice: str, rate: int, volume: int, cancel: Cancel | None) -> tuple[bytes, int]:
        chunks: list[bytes] = []
        with self._lock:
            self._request({"op": "say", "text": text, "voice": voice, "rate": rate, "volume": volume},
                          cancel, chunks.append)
            return b"".join(chunks), self._rate

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _request(self, request: dict, cancel: Cancel | None, on_audio) -> tuple[bytes, bytes]:
        proc = self._ensure()
        if cancel is not None:
            cancel.on_cancel(proc.kill)  # a stopped sentence costs one worker restart, never a wait
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
            while True:
                kind, payload = self._frame(proc)
                if kind == b"A":
                    on_audio(payload)
                elif kind == b"X":
                    raise SynthesisError(payload.decode("utf-8", "replace"))
                else:
                    return kind, payload
        except (OSError, _WorkerGone) as exc:
            self._stop()
            if cancel is not None and cancel.cancelled:
                raise SynthesisCancelled() from None
            raise SynthesisError(f"The speech worker stopped unexpectedly{_detail(exc)}.") from None

    def _ensure(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._stop()
        # The desktop build's sys.executable is Hearth itself, re-entered as the worker (app/cli).
        command = [sys.executable, "--espeak-worker"] if getattr(sys, "frozen", False) else [sys.executable, str(WORKER)]
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr)
        try:
            kind, payload = self._frame(self._proc)
        except _WorkerGone as exc:
            self._stop()
            raise SynthesisError(f"The speech worker could not start{_detail(exc)}.") from None
        if kind != b"R":
            self._stop()
            raise NoSpeechEngine(payload.decode("utf-8", "replace"))
        self._rate = int(json.loads(payload)["sample_rate"])
        return self._proc

    def _frame(self, proc: subprocess.Popen) -> tuple[bytes, bytes]:
        head = proc.stdout.read(5)
        if len(head) < 5:
            raise _WorkerGone(self._stderr_tail())
        (size,) = struct.unpack("<I", head[1:])
        payload = proc.stdout.read(size) if size else b""
        if len(payload) < size:
            raise _WorkerGone(self._stderr_tail())
        return head[:1], payload

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            return _last_line(self._stderr.read())
        except (OSError, ValueError):
            return ""

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    proc.stdin.close()
                    proc.wait(timeout=2)
                except (OSError, subprocess.TimeoutExpired):
                    proc.kill()
                    proc.wait()
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __del__(self) -> None:
        try:
            self._stop()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class _WorkerGone(Exception):
    pass


def _pcm_of_wav_stream(data: bytes) -> tuple[bytes, int]:
    """The PCM in `espeak-ng --stdout`'s WAV (its sizes are placeholders: it streams)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SynthesisError("espeak-ng returned something that is not WAV audio.")
    pos, sample_rate = 12, 22_050
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if chunk == b"fmt ":
            sample_rate = struct.unpack("<I", data[pos + 12:pos + 16])[0]
        elif chunk == b"data":
            pcm = data[pos + 8:]
            return pcm[: len(pcm) - len(pcm) % 2], sample_rate
        pos += 8 + size + size % 2
    raise SynthesisError("espeak-ng returned WAV audio without samples.")


def _last_line(raw: bytes) -> str:
    lines = [line.strip() for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _detail(exc: Exception) -> str:
    text = str(exc).strip()
    return f": {text}" if text else ""
