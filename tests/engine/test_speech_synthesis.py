"""Hearth speaks offline with espeak-ng — through the espeak-ng program when one is installed,
or through the library the espeakng-loader wheel ships, run in a child process — and never
loads that GPL library into its own process."""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.cancel import Cancel
from engine.speech.spoken_text import spoken_sentences
from engine.speech.synthesis import (
    NoSpeechEngine,
    SpeechSynthesizer,
    SynthesisCancelled,
    SynthesisError,
    UnknownVoice,
)

SENTENCE = "Please remind me to buy milk and bread tomorrow morning."
ENGINES = ["program", "library"]


@pytest.fixture(params=ENGINES)
def synthesizer(request):
    engine = SpeechSynthesizer(request.param)
    yield engine
    engine.close()


def loudness(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples.astype(np.float64) / 32768))))


def test_a_sentence_becomes_audible_speech_of_a_plausible_length(synthesizer):
    audio = synthesizer.synthesize(SENTENCE)
    words = len(SENTENCE.split())
    expected_s = words / 175 * 60  # espeak-ng's default 175 words a minute
    assert audio.sample_rate == 22_050
    assert audio.samples.dtype == np.int16
    assert 0.6 * expected_s < audio.duration_s < 1.6 * expected_s, audio.duration_s
    assert loudness(audio.samples) > 0.02
    assert np.abs(audio.samples).max() > 5_000


def test_rate_and_volume_change_the_speech(synthesizer):
    slow = synthesizer.synthesize(SENTENCE, rate=120)
    fast = synthesizer.synthesize(SENTENCE, rate=300)
    assert fast.duration_s < 0.6 * slow.duration_s
    quiet = synthesizer.synthesize(SENTENCE, volume=40)
    loud = synthesizer.synthesize(SENTENCE, volume=160)
    assert loudness(quiet.samples) < 0.5 * loudness(loud.samples)
    with pytest.raises(SynthesisError, match="80-450 words a minute"):
        synthesizer.synthesize(SENTENCE, rate=10)
    with pytest.raises(SynthesisError, match="0-200 percent"):
        synthesizer.synthesize(SENTENCE, volume=500)


def test_voices_are_listed_and_found_by_name_language_or_identifier(synthesizer):
    voices = synthesizer.voices()
    assert len(voices) > 50
    american = next(v for v in voices if v.language == "en-us")
    assert american.name == "English (America)"
    for way in (american.name, "english_(america)", "en-us", american.identifier):
        assert synthesizer.resolve_voice(way) == american.identifier
    assert synthesizer.resolve_voice("en-us+f3") == american.identifier + "+f3"
    german = synthesizer.synthesize("Guten Morgen, wie geht es dir?", voice="de")
    assert german.duration_s > 1
    with pytest.raises(UnknownVoice, match="no voice called 'elvish'.*--list-voices"):
        synthesizer.synthesize(SENTENCE, voice="elvish")


def test_a_long_reading_stops_soon_after_cancel_and_the_voice_still_works(synthesizer):
    cancel = Cancel()
    text = " ".join([SENTENCE] * 400)  # about 20 minutes of speech: seconds of work
    timer = threading.Timer(0.05, cancel.cancel)
    started = time.perf_counter()
    timer.start()
    with pytest.raises(SynthesisCancelled):
        synthesizer.synthesize(text, cancel=cancel)
    assert time.perf_counter() - started < 1.0
    assert synthesizer.synthesize("Still here.").duration_s > 0.3
    with pytest.raises(SynthesisCancelled):
        synthesizer.synthesize("Never said.", cancel=cancel)


def test_a_streaming_answer_is_spoken_sentence_by_sentence(synthesizer):
    answer = "# Plan\n\nFirst, open the window. Then, **water** the plants.\n\n```py\nprint(1)\n```\n"
    deltas = [answer[i:i + 4] for i in range(0, len(answer), 4)]
    spoken = list(synthesizer.speak_stream(deltas))
    assert [a.text for a in spoken] == spoken_sentences(answer)
    assert [a.text for a in spoken] == ["Plan.", "First, open the window.", "Then, water the plants.",
                                        "Python code block, 1 line."]
    assert all(a.duration_s > 0.3 and loudness(a.samples) > 0.02 for a in spoken)


def test_the_bundled_library_is_used_when_forced_even_with_espeak_ng_installed(monkeypatch):
    import shutil

    assert shutil.which("espeak-ng"), "espeak-ng is not installed (scripts/bootstrap.sh test installs it)"
    monkeypatch.setenv("HEARTH_ESPEAK", "library")
    engine = SpeechSynthesizer()
    try:
        assert "espeakng-loader" in engine.engine
        assert engine.synthesize(SENTENCE).duration_s > 2
    finally:
        engine.close()
    monkeypatch.setenv("HEARTH_ESPEAK", "program")
    assert "program" in SpeechSynthesizer().engine


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_hearth_never_loads_the_gpl_library_into_its_own_process():
    engine = SpeechSynthesizer("library")
    try:
        engine.synthesize(SENTENCE)
        mapped = Path("/proc/self/maps").read_text()
        assert "espeak" not in mapped
    finally:
        engine.close()


def test_without_any_espeak_the_message_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NoSpeechEngine, match="espeak-ng program is not installed"):
        SpeechSynthesizer("program")
    with pytest.raises(SynthesisError, match="Unknown speech engine 'festival'"):
        SpeechSynthesizer("festival")
    assert "espeakng-loader" in SpeechSynthesizer().engine  # auto falls back to the wheel's library
