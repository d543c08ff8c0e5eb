"""A user holds the mic button while speaking; the words appear in the message box."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

from tests.support.pulse import PulseUnavailable, ensure_pulse
from tests.support.pulse import pulse  # noqa: F401 - fixture
from tests.support.speech import LONG_SENTENCE, say_to_wav, word_error_rate
from ui.push_to_talk import PushToTalkButton, PushToTalkKeyFilter

pytestmark = pytest.mark.timeout(120)


def make_window(qtbot, controller=None):
    """A stand-in for the chat window: a push-to-talk control above a message box."""
    window = QWidget()
    ptt = PushToTalkButton(window)
    box = QLineEdit(window)
    layout = QVBoxLayout(window)
    layout.addWidget(ptt)
    layout.addWidget(box)
    qtbot.addWidget(window)
    if controller is not None:
        ptt.hold_started.connect(controller.press)
        ptt.hold_ended.connect(controller.release)
        controller.state_changed.connect(ptt.set_state)
        controller.level_changed.connect(ptt.set_level)
        controller.elapsed_changed.connect(ptt.set_elapsed)
        controller.transcript_ready.connect(box.setText)
        reason = controller.unavailable_reason()
        if reason:
            ptt.set_unavailable(reason)
    window.show()
    return window, ptt, box


def test_holding_the_button_while_speaking_puts_the_words_in_the_message_box(qtbot, pulse, starter_whisper, tmp_path):
    from app.gui.voice_controller import VoiceController
    from engine.speech import Transcriber

    wav = say_to_wav(LONG_SENTENCE, tmp_path / "speech.wav")
    controller = VoiceController(Transcriber(starter_whisper))
    with qtbot.waitSignal(controller.model_loaded, timeout=30_000):
        controller.preload()
    window, ptt, box = make_window(qtbot, controller)
    states: list[str] = []
    controller.state_changed.connect(states.append)

    with qtbot.waitSignal(controller.recorder.started, timeout=10_000):
        qtbot.mousePress(ptt.button, Qt.MouseButton.LeftButton)
    assert ptt.state == "recording" and ptt.meter.isVisible() and ptt.elapsed.isVisible()
    player = pulse.play(wav)
    qtbot.waitUntil(lambda: player.poll() is not None, timeout=30_000)
    assert ptt.meter.value() > 0 or states  # the meter moved while speech played
    assert ptt.elapsed.text() != "0:00"
    with qtbot.waitSignal(controller.transcript_ready, timeout=30_000):
        qtbot.mouseRelease(ptt.button, Qt.MouseButton.LeftButton)

    assert word_error_rate(LONG_SENTENCE, box.text()) <= 0.2, box.text()
    assert states == ["recording", "transcribing", "idle"]
    assert ptt.state == "idle" and not ptt.meter.isVisible()


def test_no_microphone_disables_the_button_and_says_why(qtbot, pulse, starter_whisper):
    from app.gui.recorder import Recorder
    from app.gui.voice_controller import VoiceController
    from engine.speech import Transcriber

    controller = VoiceController(Transcriber(starter_whisper), Recorder("unplugged-usb-mic"))
    window, ptt, box = make_window(qtbot, controller)
    holds: list[str] = []
    ptt.hold_started.connect(lambda: holds.append("hold"))

    assert not ptt.button.isEnabled()
    assert "microphone" in ptt.button.toolTip().lower()
    qtbot.mousePress(ptt.button, Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(ptt.button, Qt.MouseButton.LeftButton)
    assert holds == [] and controller.state == "idle"


def test_the_button_shows_recording_then_transcribing(qtbot):
    window, ptt, box = make_window(qtbot)
    ptt.set_state("recording")
    ptt.set_level(0.42)
    ptt.set_elapsed(75.4)
    assert ptt.meter.value() == 42 and ptt.elapsed.text() == "1:15"
    ptt.set_state("transcribing")
    assert ptt.status.isVisible() and not ptt.meter.isVisible()
    ptt.set_state("idle")
    assert not ptt.status.isVisible()


def test_sliding_off_the_button_before_letting_go_still_ends_the_hold(qtbot):
    window, ptt, box = make_window(qtbot)
    events: list[str] = []
    ptt.hold_started.connect(lambda: events.append("start"))
    ptt.hold_ended.connect(lambda: events.append("end"))
    qtbot.mousePress(ptt.button, Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(ptt.button, Qt.MouseButton.LeftButton, pos=QPoint(500, 500))
    assert events == ["start", "end"]


def test_holding_f9_talks_and_auto_repeat_is_ignored(qtbot, qapp):
    window, ptt, box = make_window(qtbot)
    keys = PushToTalkKeyFilter(window)
    qapp.installEventFilter(keys)
    events: list[str] = []
    keys.hold_started.connect(lambda: events.append("start"))
    keys.hold_ended.connect(lambda: events.append("end"))
    try:
        box.setFocus()
        qtbot.keyClicks(box, "hi")
        qtbot.keyPress(box, Qt.Key.Key_F9)
        for _ in range(3):  # the OS repeats a held key
            qapp.sendEvent(box, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_F9, Qt.KeyboardModifier.NoModifier, "", True))
            qapp.sendEvent(box, QKeyEvent(QEvent.Type.KeyRelease, Qt.Key.Key_F9, Qt.KeyboardModifier.NoModifier, "", True))
        qtbot.keyRelease(box, Qt.Key.Key_F9)
        assert events == ["start", "end"]
        assert box.text() == "hi"  # other keys still type
    finally:
        qapp.removeEventFilter(keys)
