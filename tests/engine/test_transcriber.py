"""Whisper (the bundled tiny.en) writes down what espeak-ng says, and says clearly when it
heard nothing."""
from __future__ import annotations

import numpy as np
import pytest

from engine.cancel import Cancel
from engine.speech import (
    AudioFileError,
    NothingHeardError,
    SpeechCancelled,
    SpeechModelError,
    Transcriber,
    Transcript,
    load_audio_file,
)
from tests.support.speech import SENTENCES, convert, espeak_available, say, say_to_wav, word_error_rate, words

SR = 16_000


@pytest.fixture(scope="module")
def transcriber(starter_whisper) -> Transcriber:
    if not espeak_available():
        pytest.fail("espeak-ng is not installed (scripts/bootstrap.sh test installs it)")
    t = Transcriber(starter_whisper)
    t.load()
    return t


def test_spoken_sentences_are_written_down(transcriber, tmp_path):
    errors = total = 0
    for sentence in SENTENCES:
        transcript = transcriber.transcribe(say(sentence, tmp_path))
        assert isinstance(transcript, Transcript) and transcript.language == "en"
        errors += word_error_rate(sentence, transcript.text) * len(words(sentence))
        total += len(words(sentence))
    assert errors / total <= 0.2


def test_a_transcript_says_how_long_the_speech_was_and_where_the_words_are(transcriber, tmp_path):
    samples = say(SENTENCES[0], tmp_path)
    transcript = transcriber.transcribe(samples)
    assert transcript.duration_s == pytest.approx(samples.size / SR)
    assert transcript.segments and transcript.segments[0].start_s < 1.0
    assert transcript.segments[-1].end_s <= transcript.duration_s + 0.5


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_audio_files_are_transcribed_too(transcriber, tmp_path, suffix):
    wav = say_to_wav(SENTENCES[2], tmp_path / "speech.wav")
    path = wav if suffix == ".wav" else convert(wav, suffix)
    assert word_error_rate(SENTENCES[2], transcriber.transcribe(path).text) <= 0.2


def test_padding_keeps_the_first_and_last_words_of_tightly_cut_speech(starter_whisper, tmp_path):
    """Speech that starts at the very first sample (the user spoke as they pressed)."""
    errors = {}
    for pad in (0.0, 0.2):
        t = Transcriber(starter_whisper, pad_s=pad)
        total = 0.0
        for sentence in SENTENCES:
            samples = say(sentence, tmp_path)
            loud = np.flatnonzero(np.abs(samples) > 0.01)
            total += word_error_rate(sentence, t.transcribe(samples[loud[0] : loud[-1] + 1]).text)
        errors[pad] = total
    assert errors[0.2] <= errors[0.0]


def test_silence_is_nothing_heard(transcriber):
    with pytest.raises(NothingHeardError, match="hold the button while you speak"):
        transcriber.transcribe(np.zeros(3 * SR, dtype=np.float32))


def test_a_tap_too_short_to_hold_a_word_is_nothing_heard(transcriber, tmp_path):
    samples = say(SENTENCES[0], tmp_path)
    with pytest.raises(NothingHeardError):
        transcriber.transcribe(samples[: int(0.2 * SR)])


def test_hiss_without_a_voice_is_nothing_heard(transcriber):
    rng = np.random.default_rng(7)
    hiss = (0.01 * rng.standard_normal(3 * SR)).astype(np.float32)
    with pytest.raises(NothingHeardError):
        transcriber.transcribe(hiss)


def test_an_english_only_model_ignores_a_chosen_language(transcriber, tmp_path):
    assert not transcriber.multilingual
    text = transcriber.transcribe(say(SENTENCES[1], tmp_path), language="fr").text
    assert word_error_rate(SENTENCES[1], text) <= 0.2


def test_a_cancelled_transcription_stops(transcriber, tmp_path):
    cancel = Cancel()
    cancel.cancel()
    with pytest.raises(SpeechCancelled):
        transcriber.transcribe(say(SENTENCES[1], tmp_path), cancel=cancel)


def test_a_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SpeechModelError, match="does not exist"):
        Transcriber(tmp_path / "no-model").load()


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(SpeechModelError, match="model.bin is missing"):
        Transcriber(tmp_path).load()


def test_an_unknown_model_name_is_not_downloaded(tmp_path):
    with pytest.raises(SpeechModelError, match="could not be loaded"):
        Transcriber("hearth-no-such-whisper-model").load()


def test_files_that_are_not_audio_are_refused_with_a_message(tmp_path):
    fake = tmp_path / "notes.mp3"
    fake.write_text("this is not audio")
    with pytest.raises(AudioFileError, match="not an audio file"):
        load_audio_file(fake)
    with pytest.raises(AudioFileError, match="does not exist"):
        load_audio_file(tmp_path / "missing.wav")
