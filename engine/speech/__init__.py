"""Speech to text with faster-whisper: no Qt here, so a CLI, a test or a server can use it."""
from engine.speech.audio_files import AudioFileError, load_audio_file
from engine.speech.transcriber import (
    SAMPLE_RATE,
    NothingHeardError,
    Segment,
    SpeechCancelled,
    SpeechError,
    SpeechModelError,
    Transcriber,
    Transcript,
)

__all__ = [
    "SAMPLE_RATE",
    "AudioFileError",
    "NothingHeardError",
    "Segment",
    "SpeechCancelled",
    "SpeechError",
    "SpeechModelError",
    "Transcriber",
    "Transcript",
    "load_audio_file",
]
