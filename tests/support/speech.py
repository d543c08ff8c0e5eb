"""Speech for tests: espeak-ng says a sentence into a wav file; WER scores a transcript."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

SENTENCES = (
    "Please remind me to buy milk and bread tomorrow morning.",
    "What is the weather going to be like this weekend?",
    "Turn the music down and open the kitchen window.",
    "My favourite colour is green and I like to read books.",
    "Send a message to my sister saying I will be late.",
)
# A ~5 second utterance for the bench and the microphone tests.
LONG_SENTENCE = "Please write a short poem about the sea and the summer sky for my little brother."

VOICE = "en-us"
WORDS_PER_MINUTE = 150


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def say_to_wav(text: str, path: Path, *, voice: str = VOICE, wpm: int = WORDS_PER_MINUTE) -> Path:
    """Synthesise `text` with espeak-ng into a 22.05 kHz mono wav at `path`."""
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text], check=True, capture_output=True, timeout=30)
    return path


def say(text: str, tmp_dir: Path, **kwargs) -> np.ndarray:
    """Synthesise `text` and return 16 kHz mono float32 samples (decoded the app's way)."""
    from engine.speech.audio_files import load_audio_file

    path = tmp_dir / (re.sub(r"\W+", "_", text.lower())[:40].strip("_") + ".wav")
    return load_audio_file(say_to_wav(text, path, **kwargs))


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("favorite", "favourite").replace("color", "colour"))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diag, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (r != h))
    return row[-1] / max(1, len(ref))


def convert(wav: Path, suffix: str) -> Path:
    """The same speech as flac/ogg (sox) or mp3 (PyAV's bundled LAME: Debian's sox lacks mp3)."""
    out = wav.with_suffix(suffix)
    if suffix == ".mp3":
        import av

        with av.open(str(wav)) as src, av.open(str(out), "w") as dst:
            stream = dst.add_stream("libmp3lame", rate=src.streams.audio[0].rate)
            for frame in src.decode(audio=0):
                frame.pts = None
                for packet in stream.encode(frame):
                    dst.mux(packet)
            for packet in stream.encode(None):
                dst.mux(packet)
    else:
        subprocess.run(["sox", str(wav), str(out)], check=True, capture_output=True, timeout=30)
    return out
