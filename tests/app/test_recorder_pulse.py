"""The real microphone path: PulseAudio plays espeak-ng speech into a virtual microphone,
QtMultimedia records it through `Recorder`, and Whisper writes it down."""
from __future__ import annotations

import numpy as np
import pytest

from tests.support.pulse import PulseUnavailable, ensure_pulse
from tests.support.pulse import pulse  # noqa: F401 - fixture
from tests.support.speech import LONG_SENTENCE, espeak_available, say_to_wav, word_error_rate

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def transcriber(starter_whisper):
    from engine.speech import Transcriber

    t = Transcriber(starter_whisper)
    t.load()
    return t


@pytest.fixture(scope="module")
def spoken_wav(tmp_path_factory):
    if not espeak_available():
        pytest.fail("espeak-ng is not installed (scripts/bootstrap.sh test installs it)")
    return say_to_wav(LONG_SENTENCE, tmp_path_factory.mktemp("speech") / "long.wav")


def record_while_playing(qtbot, recorder, pulse, wav) -> np.ndarray:
    """Hold 'the button' while the speaker talks: start, wait for a live mic, play, release."""
    with qtbot.waitSignal(recorder.started, timeout=10_000):
        assert recorder.start()
    player = pulse.play(wav)
    qtbot.waitUntil(lambda: player.poll() is not None, timeout=30_000)
    assert player.returncode == 0, player.stderr.read()
    with qtbot.waitSignal(recorder.finished, timeout=10_000) as done:
        recorder.stop()
    return done.args[0]


def test_speech_played_into_the_microphone_is_recorded_and_transcribed(qtbot, pulse, transcriber, spoken_wav):
    from app.gui.recorder import Recorder

    recorder = Recorder()
    levels: list[float] = []
    elapsed: list[float] = []
    recorder.level_changed.connect(levels.append)
    recorder.elapsed_changed.connect(elapsed.append)

    samples = record_while_playing(qtbot, recorder, pulse, spoken_wav)

    assert samples.dtype == np.float32 and samples.ndim == 1
    assert samples.size / 16_000 >= 4.0  # the whole ~5 s utterance, plus the tail
    assert max(levels) > 0.5 and elapsed == sorted(elapsed)
    text = transcriber.transcribe(samples).text
    assert word_error_rate(LONG_SENTENCE, text) <= 0.2, text
    assert not recorder.recording


def test_the_microphone_can_be_chosen_by_id(qtbot, pulse, transcriber, spoken_wav):
    from app.gui.recorder import Recorder, device_id

    ids = [device_id(d) for d in Recorder.available_devices()]
    assert "hearth_mic" in ids and Recorder.has_input_device()
    recorder = Recorder("hearth_mic")
    samples = record_while_playing(qtbot, recorder, pulse, spoken_wav)
    assert word_error_rate(LONG_SENTENCE, transcriber.transcribe(samples).text) <= 0.2


def test_a_cancelled_take_emits_nothing(qtbot, pulse):
    from app.gui.recorder import Recorder

    recorder = Recorder()
    finished: list[object] = []
    recorder.finished.connect(finished.append)
    with qtbot.waitSignal(recorder.started, timeout=10_000):
        recorder.start()
    recorder.cancel()
    qtbot.wait(400)
    assert finished == [] and not recorder.recording


def test_a_missing_microphone_id_fails_with_a_message_instead_of_recording(qtbot, pulse):
    from app.gui.recorder import Recorder

    recorder = Recorder("no-such-microphone")
    assert "not connected" in recorder.unavailable_reason()
    with qtbot.waitSignal(recorder.failed, timeout=1000) as failure:
        assert recorder.start() is False
    assert "microphone" in failure.args[0].lower()
    assert not recorder.recording


def test_other_device_formats_are_converted_to_16khz_mono():
    from PySide6.QtMultimedia import QAudioFormat

    from app.gui.recorder import pcm_to_float, resample

    t = np.arange(48_000) / 48_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stereo = np.stack([tone, tone], axis=1).reshape(-1)
    mono = pcm_to_float(stereo.tobytes(), QAudioFormat.SampleFormat.Float, 2)
    np.testing.assert_allclose(mono, tone, atol=1e-6)
    at_16k = resample(mono, 48_000)
    assert at_16k.size == 16_000
    np.testing.assert_allclose(at_16k, tone[::3], atol=1e-3)
    ints = (tone * 32767).astype("<i2").tobytes()
    np.testing.assert_allclose(pcm_to_float(ints, QAudioFormat.SampleFormat.Int16, 1), tone, atol=1e-4)
