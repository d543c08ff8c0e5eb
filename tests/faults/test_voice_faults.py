"""Voice input when things go wrong: the microphone is pulled out mid-sentence, there is no
sound system at all, the model is broken, the user moved on before the transcript came."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.pulse import PulseUnavailable, ensure_pulse
from tests.support.pulse import pulse  # noqa: F401 - fixture
from tests.support.speech import SENTENCES, say, say_to_wav

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def test_a_microphone_pulled_out_mid_sentence_is_reported_not_hung(qtbot, pulse, starter_whisper):
    from app.gui.voice_controller import VoiceController
    from engine.speech import Transcriber

    controller = VoiceController(Transcriber(starter_whisper))
    failures: list[str] = []
    controller.voice_failed.connect(failures.append)
    with qtbot.waitSignal(controller.recorder.started, timeout=10_000):
        controller.press()
    try:
        with qtbot.waitSignal(controller.voice_failed, timeout=10_000):
            pulse.unplug_everything()
    finally:
        pulse.plug_back()
    assert "microphone" in failures[0].lower()
    assert controller.state == "idle" and not controller.recorder.recording
    controller.release()  # letting go afterwards is harmless
    assert controller.state == "idle"


def test_with_no_sound_system_at_all_the_button_is_disabled_with_a_reason(tmp_path):
    script = textwrap.dedent(
        """
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from app.gui.voice_controller import VoiceController
        from ui.push_to_talk import PushToTalkButton
        controller = VoiceController()
        button = PushToTalkButton()
        reason = controller.unavailable_reason()
        if reason:
            button.set_unavailable(reason)
        print(button.button.isEnabled(), button.button.toolTip(), sep="|")
        """
    )
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "PULSE_SERVER": f"unix:{tmp_path / 'no-server'}", "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    enabled, tooltip = done.stdout.strip().splitlines()[-1].split("|")
    assert enabled == "False" and "No microphone found" in tooltip


def test_a_transcript_for_a_conversation_the_user_left_never_lands(qtbot, starter_whisper, tmp_path):
    from app.gui.voice_controller import VoiceController
    from engine.speech import Transcriber

    transcriber = Transcriber(starter_whisper)
    transcriber.load()
    controller = VoiceController(transcriber)
    states: list[str] = []
    controller.state_changed.connect(states.append)
    controller.recorder.finished.emit(say(SENTENCES[0], tmp_path))  # a take just ended
    assert controller.state == "transcribing"
    controller.cancel()  # the user switched conversation
    with qtbot.assertNotEmitted(controller.transcript_ready, wait=2000):
        pass
    assert controller.state == "idle" and states == ["transcribing", "idle"]


def test_takes_are_transcribed_in_order_and_can_be_sent_at_once(qtbot, starter_whisper, tmp_path):
    from app.gui.voice_controller import VoiceController
    from engine.speech import Transcriber

    controller = VoiceController(Transcriber(starter_whisper), send_immediately=True)
    sent: list[str] = []
    controller.send_requested.connect(sent.append)
    controller.recorder.finished.emit(say(SENTENCES[1], tmp_path))
    controller.recorder.finished.emit(say(SENTENCES[2], tmp_path))
    qtbot.waitUntil(lambda: len(sent) == 2, timeout=30_000)
    assert "weather" in sent[0].lower() and "kitchen" in sent[1].lower()


def test_a_quick_tap_says_nothing_was_heard(qtbot, starter_whisper):
    from app.gui.voice_controller import VoiceController
    from engine.speech import Transcriber

    controller = VoiceController(Transcriber(starter_whisper))
    with qtbot.waitSignal(controller.voice_failed, timeout=10_000) as failure:
        controller.recorder.finished.emit(np.zeros(1600, dtype=np.float32))
    assert failure.args[0] == "I didn't hear anything — hold the button while you speak."


def test_a_broken_speech_model_is_reported_at_start(qtbot, tmp_path, starter_whisper):
    from app.gui.voice_controller import VoiceController
    from engine.speech import Transcriber

    broken = tmp_path / "whisper"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (broken / name).write_bytes((starter_whisper / name).read_bytes())
    (broken / "model.bin").write_bytes(b"\x00" * 1024)
    controller = VoiceController(Transcriber(broken))
    with qtbot.waitSignal(controller.voice_failed, timeout=30_000) as failure:
        controller.preload()
    assert failure.args[0].startswith("The speech model") and "could not be loaded" in failure.args[0]


def test_the_cli_prints_text_or_one_line_of_error(tmp_path):
    wav = say_to_wav(SENTENCES[2], tmp_path / "speech.wav")
    ok = subprocess.run([sys.executable, "-m", "app.cli.transcribe", str(wav)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "kitchen" in ok.stdout.lower()
    junk = tmp_path / "junk.ogg"
    junk.write_bytes(b"OggS" + bytes(range(256)) * 4)
    bad = subprocess.run([sys.executable, "-m", "app.cli.transcribe", str(junk)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "junk.ogg" in bad.stderr


@given(st.binary(max_size=4000), st.sampled_from(["Int16", "Int32", "Float", "UInt8"]), st.integers(1, 8))
def test_any_bytes_from_a_driver_become_bounded_mono_samples(data, fmt, channels):
    from PySide6.QtMultimedia import QAudioFormat

    from app.gui.recorder import level_of, pcm_to_float, resample

    samples = pcm_to_float(data, getattr(QAudioFormat.SampleFormat, fmt), channels)
    assert samples.dtype == np.float32 and np.all(np.abs(samples) <= 1.0)
    assert 0.0 <= level_of(samples) <= 1.0
    assert resample(samples, 44_100).size == round(samples.size * 16_000 / 44_100)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=4000))
def test_any_short_or_odd_take_is_nothing_heard_not_a_crash(values):
    from engine.speech import NothingHeardError, Transcriber

    with pytest.raises(NothingHeardError):  # < 0.3 s: refused before any model is needed
        Transcriber(Path("/nonexistent")).transcribe(np.array(values, dtype=np.float32))
