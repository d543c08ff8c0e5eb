"""Hearth speaks with the system's own voices (QtTextToSpeech) as well as its offline voice.

Qt's "mock" text-to-speech engine ships with PySide6 and is silent; Hearth offers it only when
HEARTH_TTS_ENGINE names it, so these tests take the real QtTextToSpeech path with it. A user
picks "System: Anne (en-GB)" in Settings → Voice and hears an answer read by the engine (it goes
to Speaking, then back to Ready); Esc, Stop reading, a new message and push-to-talk silence it;
and when the system's engine breaks down, or the chosen voice is not on this computer, the
offline voice speaks instead and the status bar says so.
"""
from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTextToSpeech import QTextToSpeech
from PySide6.QtWidgets import QApplication, QTabWidget

from app.gui.system_voices import ENGINE_ENV, SystemVoices, qt_rate, qt_volume
from engine.speech.spoken_text import spoken_sentences
from tests.support.app import last_widget, running_hearth, send, store_chat
from tests.support.openai_server import scripted_server
from tests.support.pulse import pulse  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(240)

ANNE = "system:mock:en_GB:Anne"
ANSWER = ("Here is what I know.\n\n## Tides\n\nThe moon pulls the sea, so the tide rises twice a day and falls "
          "twice a day. See [the guide](https://example.org/tides) for the times in your harbour.\n\n"
          "Spring tides come with the new and the full moon, and neap tides come in between.\n\n"
          "That is all for now.")


@pytest.fixture
def system_voices(monkeypatch, pulse):
    """Qt's silent mock engine stands in for the system's (and a speaker for the offline voice)."""
    monkeypatch.setenv(ENGINE_ENV, "mock")
    return pulse


def a_stored_chat(answer: str = ANSWER) -> None:
    store_chat("Tides", "How do tides work?", answer)


def the_engine(hearth) -> QTextToSpeech:
    engine = hearth.speech.controller.system.findChild(QTextToSpeech)
    assert engine is not None and engine.engine() == "mock"
    return engine


def watch(engine: QTextToSpeech) -> tuple[list, list]:
    states: list = []
    words: list[str] = []
    engine.stateChanged.connect(states.append)
    engine.sayingWord.connect(lambda word, *_: words.append(word))
    return states, words


def clips_played(hearth) -> list[str]:
    played: list[str] = []
    hearth.speech.controller.output.clip_started.connect(played.append)
    return played


def status(hearth) -> str:
    return hearth.window.statusBar().currentMessage()


def test_a_system_voice_chosen_in_settings_reads_an_answer_aloud_through_qt(qtbot, system_voices):
    a_stored_chat()
    with running_hearth(qtbot) as hearth:
        seen: dict = {}

        def in_the_dialog() -> None:
            dialog = QApplication.activeModalWidget()
            tabs = dialog.findChild(QTabWidget)
            tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == "Voice"))
            voice = dialog.editor("voice/speech_voice")
            seen["voices"] = [voice.itemText(i) for i in range(voice.count())]
            voice.setCurrentIndex(voice.findData(ANNE))
            dialog.editor("voice/speech_rate").setValue(260)
            dialog.editor("voice/speech_volume").setValue(50)
            dialog.accept()

        QTimer.singleShot(0, in_the_dialog)
        hearth.window.settings_action.trigger()
        assert seen["voices"][:4] == ["System: Anne (en-GB)", "System: Bob (en-GB)",
                                      "System: Charly (en-US)", "System: Mary (en-US)"]
        assert len([v for v in seen["voices"] if v.startswith("System: ")]) == 10
        assert any(v.startswith("English") for v in seen["voices"])   # the offline voices stay
        assert hearth.settings.get("voice/speech_voice") == ANNE

        button = last_widget(hearth).read_aloud_button
        played = clips_played(hearth)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        engine = the_engine(hearth)
        states, words = watch(engine)
        assert engine.voice().name() == "Anne" and engine.locale().name() == "en_GB"
        assert engine.rate() == pytest.approx(qt_rate(260)) and 0.5 < engine.rate() < 0.6
        assert engine.volume() == pytest.approx(0.5)
        assert engine.state() == QTextToSpeech.State.Speaking
        assert button.text() == "Stop reading" and hearth.speech.controller.state == "speaking"
        assert hearth.speech.phase_label.text() == "Speaking…"

        qtbot.waitUntil(lambda: button.text() == "Read aloud", timeout=30_000)
        assert states[-1] == QTextToSpeech.State.Ready
        spoken = " ".join(spoken_sentences(ANSWER))
        assert words == re.findall(r"\w+", spoken)
        assert "https" not in spoken and "#" not in spoken
        assert hearth.speech.controller.state == "idle" and not hearth.speech.phase_label.isVisible()
        assert played == []   # the system's engine spoke, not Hearth's own voice


def test_esc_stop_reading_a_new_message_and_push_to_talk_each_silence_a_system_voice(qtbot, system_voices):
    a_stored_chat()
    with scripted_server(["remote-model"]) as server, running_hearth(
            qtbot, {"remote/enabled": True, "remote/base_url": server.base_url, "remote/model": "",
                    "voice/speech_voice": ANNE}) as hearth:
        speech = hearth.speech.controller
        button = last_widget(hearth).read_aloud_button
        composer = hearth.window.composer

        def reading() -> QTextToSpeech:
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
            engine = the_engine(hearth)
            qtbot.waitUntil(lambda: engine.state() == QTextToSpeech.State.Speaking, timeout=5_000)
            return engine

        def silenced(engine: QTextToSpeech) -> bool:
            return (engine.state() == QTextToSpeech.State.Ready and speech.state == "idle"
                    and button.text() == "Read aloud")

        engine = reading()
        qtbot.keyClick(composer.edit, Qt.Key.Key_Escape)
        assert silenced(engine)

        engine = reading()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)   # Stop reading
        assert silenced(engine)

        engine = reading()
        qtbot.keyPress(composer.edit, Qt.Key.Key_F9)   # push-to-talk: quiet before the microphone opens
        assert silenced(engine)
        qtbot.keyRelease(composer.edit, Qt.Key.Key_F9)
        qtbot.waitUntil(lambda: hearth.voice.state == "idle", timeout=30_000)

        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=30_000)
        engine = reading()
        server.replies = ["Hello there."]
        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=15_000):
            send(qtbot, hearth, "Say hello.")
            assert silenced(engine)
        assert speech.reading == 0   # Speak answers is off: the new answer is not read


def test_speak_answers_with_a_system_voice_keeps_up_sentence_by_sentence(qtbot, system_voices):
    answer = "The sky is blue. Grass is green. Snow is white."
    with scripted_server(["remote-model"]) as server, running_hearth(
            qtbot, {"remote/enabled": True, "remote/base_url": server.base_url, "remote/model": "",
                    "voice/speech_voice": ANNE, "voice/speak_answers": True}) as hearth:
        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=30_000)
        engine = the_engine(hearth)
        states, words = watch(engine)
        server.replies = [answer]
        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=15_000):
            send(qtbot, hearth, "Name three colours")
        qtbot.waitUntil(lambda: hearth.speech.controller.state == "idle", timeout=20_000)
        assert QTextToSpeech.State.Speaking in states and states[-1] == QTextToSpeech.State.Ready
        assert words == "The sky is blue Grass is green Snow is white".split()


def test_a_system_voice_that_breaks_down_hands_the_rest_to_the_offline_voice(qtbot, system_voices):
    a_stored_chat()
    with running_hearth(qtbot, {"voice/speech_voice": ANNE}) as hearth:
        speech = hearth.speech.controller
        button = last_widget(hearth).read_aloud_button
        played = clips_played(hearth)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        engine = the_engine(hearth)
        states, words = watch(engine)
        qtbot.waitUntil(lambda: len(words) >= 2, timeout=5_000)   # into the first sentence

        engine.errorOccurred.emit(QTextToSpeech.ErrorReason.Playback, "The audio device went away")
        assert engine.state() == QTextToSpeech.State.Ready   # the engine was stopped
        assert status(hearth) == ("The system voice failed: The audio device went away. "
                                  "Hearth's own voice speaks instead.")
        assert button.text() == "Stop reading"
        qtbot.waitUntil(lambda: bool(played), timeout=10_000)
        assert played[0] == spoken_sentences(ANSWER)[0]   # the sentence it broke off is said again
        assert speech.prefs_in_use.voice == "en-us"
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)   # Stop reading
        assert speech.state == "idle" and not speech.output.playing

        # The broken engine is not tried again this session: the offline voice reads at once.
        played.clear()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert "The system voice failed" in status(hearth) and "Hearth's own voice speaks instead" in status(hearth)
        qtbot.waitUntil(lambda: bool(played), timeout=10_000)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert speech.state == "idle"


def test_a_system_voice_from_another_computer_gives_way_to_the_offline_voice(qtbot, system_voices):
    a_stored_chat()
    with running_hearth(qtbot, {"voice/speech_voice": "system:darwin:en_US:Samantha"}) as hearth:
        assert hearth.speech.controller.unavailable_reason() is None   # the offline voice can speak
        button = last_widget(hearth).read_aloud_button
        assert button.isEnabled()
        played = clips_played(hearth)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert status(hearth) == ("The system voice Samantha is not available on this computer. "
                                  "Hearth's own voice speaks instead.")
        qtbot.waitUntil(lambda: bool(played), timeout=10_000)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert hearth.speech.controller.state == "idle"


def test_without_the_offline_voice_a_system_voice_still_speaks(qtbot, system_voices, monkeypatch, tmp_path):
    monkeypatch.setenv("HEARTH_ESPEAK", "program")
    monkeypatch.setenv("PATH", str(tmp_path))   # no espeak-ng program anywhere
    a_stored_chat()
    with running_hearth(qtbot) as hearth:
        assert not hearth.speech.button.isEnabled()   # the offline voice is chosen, and missing
        seen: dict = {}

        def in_the_dialog() -> None:
            dialog = QApplication.activeModalWidget()
            test, voice = dialog.button("voice/speech_voice"), dialog.editor("voice/speech_voice")
            seen["offline"] = (voice.currentData(), test.isEnabled(), "espeak-ng" in test.toolTip())
            voice.setCurrentIndex(voice.findData(ANNE))
            seen["system"] = test.isEnabled()
            test.click()
            seen["engine"] = the_engine(hearth).state()
            dialog.accept()

        QTimer.singleShot(0, in_the_dialog)
        hearth.window.settings_action.trigger()
        assert seen["offline"] == ("en-us", False, True)
        assert seen["system"] is True and seen["engine"] == QTextToSpeech.State.Speaking
        assert hearth.speech.button.isEnabled() and last_widget(hearth).read_aloud_button.isEnabled()


def test_the_silent_test_engine_is_never_offered_unless_asked_for(qapp, monkeypatch):
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    assert not any(v.engine == "mock" for v in SystemVoices().voices())
    monkeypatch.setenv(ENGINE_ENV, "none")
    assert SystemVoices().voices() == []
    monkeypatch.setenv(ENGINE_ENV, "mock")
    assert {v.engine for v in SystemVoices().voices()} == {"mock"}


@pytest.mark.parametrize(("words_per_minute", "rate"), [(175, 0.0), (350, 1.0), (450, 1.0), (87.5, -1.0), (80, -1.0)])
def test_the_speaking_rate_maps_onto_qts_rate(words_per_minute, rate):
    assert qt_rate(words_per_minute) == pytest.approx(rate)


@pytest.mark.parametrize(("percent", "volume"), [(100, 1.0), (50, 0.5), (0, 0.0), (200, 1.0)])
def test_the_volume_maps_onto_qts_volume(percent, volume):
    assert qt_volume(percent) == pytest.approx(volume)
