"""Audio files (wav, flac, mp3, ogg, ...) to the 16 kHz mono float32 samples Whisper wants.

faster-whisper's own `decode_audio` (PyAV, FFmpeg bundled in the wheel) does the decoding
and resampling; this module only turns its failures into messages a user can act on.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.speech.transcriber import SAMPLE_RATE, SpeechError


class AudioFileError(SpeechError):
    """The file could not be read as audio."""


def load_audio_file(path: Path | str) -> np.ndarray:
    """Decode `path` to 16 kHz mono float32; raise `AudioFileError` with a readable message."""
    import av  # PyAV comes with faster-whisper
    from faster_whisper import decode_audio

    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"The audio file {path} does not exist.")
    if not path.is_file():
        raise AudioFileError(f"{path} is not a file.")
    try:
        samples = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, ValueError, IndexError, StopIteration) as exc:
        raise AudioFileError(f"{path.name} is not an audio file Hearth can read (wav, flac, mp3, ogg…).") from exc
    except OSError as exc:
        raise AudioFileError(f"Could not read {path.name}: {exc.strerror or exc}.") from exc
    return np.asarray(samples, dtype=np.float32)
