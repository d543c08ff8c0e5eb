"""Hearth reads its answers aloud, in the real window with the real starter model.

A user turns on Speak answers and hears the first sentence while the rest is still being
written; presses Read aloud on an answer (it becomes Stop reading); and silences Hearth with
Esc, with Stop, or by sending the next message. Settings → Voice picks the voice, rate, volume,
speaker and what to do with code blocks, and its Test button speaks. With no speech engine at
all, every speech control is disabled and says why.
"""
from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QComboBox, QTabWidget

from engine.speech.spoken_text import spoken_sentences
from tests.support.app import last_widget, running_hearth, send, store_chat
from tests.support.openai_server import scripted_server
from tests.support.pulse import pulse  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(240)

QUICK = {"chat/temperature": 0.0, "chat/max_tokens": 200, "engine/n_ctx": 2048}
FAST_VOICE = {"voice/speech_rate": 450}  # nobody transcribes these: the answer is over sooner
STORED_ANSWER = ("Here is what I know.\n\n## Tides\n\nThe moon pulls the sea, so the tide rises twice a day. "
                 "See [the guide](https://example.org/tides) for times.\n\n```python\nprint('high tide')\n```\n\n"
                 "That is all for now.")


@pytest.fixture
def speaker(pulse):
    """A sound system with a speaker (PulseAudio's null sink); skipped where there is none."""
    return pulse


def a_stored_chat(answer: str = STORED_ANSWER) -> None:
    store_chat("Tides", "How do tides work?", answer)


def record_sentences(hearth) -> list[tuple[float, str]]:
    queued: list[tuple[float, str]] = []
    hearth.speech.controller.sentence_queued.connect(lambda s: queued.append((time.monotonic(), s)))
    return queued


def test_speak_answers_starts_with_the_first_sentence_while_the_answer_is_still_being_written(qtbot, speaker):
    with running_hearth(qtbot, {**QUICK, **FAST_VOICE}) as hearth:
        speak = hearth.speech.button
        assert speak.isEnabled() and not speak.isChecked()
        qtbot.mouseClick(speak, Qt.MouseButton.LeftButton)  # before the chat exists: kept for it
        assert speak.isChecked()
        queued = record_sentences(hearth)
        deltas: list[tuple[float, str]] = []
        hearth.answers.answer_progressed.connect(lambda _mid, text: deltas.append((time.monotonic(), text)))
        heard: list[float] = []
        hearth.speech.controller.output.clip_started.connect(lambda _tag: heard.append(time.monotonic()))
        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60_000)

        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=90_000) as done:
            send(qtbot, hearth, "Describe the sea in six sentences.")
        finished = time.monotonic()
        answer = hearth.store.get_message(done.args[0])
        assert queued, f"nothing was spoken of {answer.content!r}"
        first_at, first = queued[0]
        assert first_at < finished, "the first sentence waited for the whole answer"
        assert len(spoken_sentences(answer.content)) > 1
        # It went to synthesis while the delta that finished it was being handled (the recorder above
        # hears each delta just after the speech does), and was heard soon after.
        completing = next(at for at, _ in deltas if at >= first_at)
        assert completing - first_at < 0.05
        qtbot.waitUntil(lambda: bool(heard), timeout=10_000)
        print(f"\nfirst sentence {first!r}: to synthesis within {1000 * (completing - first_at):.2f} ms of its "
              f"last delta, heard {1000 * (heard[0] - first_at):.0f} ms later; the answer ended "
              f"{finished - first_at:.2f} s after it went to synthesis")
        assert [s for _, s in queued] == spoken_sentences(answer.content)[:len(queued)]
        assert last_widget(hearth).read_aloud_button.text() == "Stop reading"
        assert hearth.speech.phase_label.text() in ("Speaking…", "Thinking…")
        qtbot.waitUntil(lambda: hearth.speech.controller.state == "idle", timeout=60_000)
        assert [s for _, s in queued] == spoken_sentences(answer.content)
        assert last_widget(hearth).read_aloud_button.text() == "Read aloud"
        assert not hearth.speech.phase_label.isVisible()

        # The choice belongs to this chat: a new chat starts from the default (off), and back it is on.
        first_chat = hearth.transcript.current_id
        assert hearth.store.get_conversation(first_chat).settings["voice/speak_answers"] is True
        hearth.window.new_action.trigger()
        assert not speak.isChecked()
        hearth.transcript.open(first_chat)
        assert speak.isChecked()


def test_the_thought_of_a_reasoning_model_is_never_spoken(qtbot, speaker):
    reply = {"reasoning": "The user wants colours. I secretly prefer teal.", "content": "The sky is blue. Grass is green."}
    with scripted_server(["qwen3-8b"]) as server, running_hearth(
            qtbot, {"remote/enabled": True, "remote/base_url": server.base_url, "remote/model": "",
                    "voice/speak_answers": True, **FAST_VOICE}) as hearth:
        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=30_000)
        queued = record_sentences(hearth)
        server.replies = ["<think>I secretly prefer teal. Keep it short.</think>The sky is blue. Grass is green.", reply]
        for _ in range(2):
            with qtbot.waitSignal(hearth.answers.answer_finished, timeout=15_000):
                send(qtbot, hearth, "Name two colours")
            qtbot.waitUntil(lambda: hearth.speech.controller.state == "idle", timeout=20_000)
        said = [s for _, s in queued]
        assert said == ["The sky is blue.", "Grass is green."] * 2
        assert not any("secret" in s or "teal" in s for s in said)


def test_read_aloud_reads_an_answer_the_way_a_person_would_and_stop_reading_stops_it(qtbot, speaker):
    a_stored_chat()
    with running_hearth(qtbot) as hearth:
        answer = last_widget(hearth)
        button = answer.read_aloud_button
        qtbot.waitUntil(button.isVisible, timeout=5_000)
        assert button.text() == "Read aloud" and button.isEnabled()
        assert all(w.read_aloud_button is None for w in hearth.window.messages.widgets() if w.role == "user")
        queued = record_sentences(hearth)

        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert button.text() == "Stop reading"
        said = [s for _, s in queued]
        assert said == spoken_sentences(STORED_ANSWER)
        assert "Python code block, 1 line." in said and not any("https" in s or "#" in s for s in said)
        qtbot.waitUntil(lambda: hearth.speech.controller.state == "speaking", timeout=10_000)
        assert hearth.speech.phase_label.text() == "Speaking…"

        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # Stop reading
        assert button.text() == "Read aloud"
        assert hearth.speech.controller.state == "idle" and not hearth.speech.controller.output.playing
        assert not hearth.speech.phase_label.isVisible()

        # Read to the end, it gives the button back by itself.
        hearth.settings.set("voice/speech_rate", 400)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: button.text() == "Read aloud", timeout=60_000)
        assert hearth.speech.controller.state == "idle"


def test_esc_stop_and_a_new_message_each_silence_hearth(qtbot, speaker):
    a_stored_chat()
    with running_hearth(qtbot, {**QUICK, "chat/max_tokens": 300}) as hearth:
        speech = hearth.speech.controller
        composer = hearth.window.composer
        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60_000)
        stored = last_widget(hearth)

        # Esc in the message box.
        qtbot.mouseClick(stored.read_aloud_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: speech.state == "speaking", timeout=10_000)
        qtbot.keyClick(composer.edit, Qt.Key.Key_Escape)
        assert speech.state == "idle" and not speech.output.playing
        assert stored.read_aloud_button.text() == "Read aloud"

        # A new message.
        qtbot.mouseClick(stored.read_aloud_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: speech.state == "speaking", timeout=10_000)
        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=90_000):
            send(qtbot, hearth, "Say hello.")
            assert speech.state == "idle" and stored.read_aloud_button.text() == "Read aloud"
            assert speech.reading == 0   # Speak answers is off: the new answer is not read

        # Stop, while an answer is being written and spoken.
        qtbot.mouseClick(hearth.speech.button, Qt.MouseButton.LeftButton)
        send(qtbot, hearth, "Write a long story about a lighthouse keeper and the sea.")
        qtbot.waitUntil(lambda: speech.state == "speaking", timeout=60_000)
        assert hearth.answers.streaming, "the answer ended before it was heard: make it longer"
        qtbot.mouseClick(composer.stop_button, Qt.MouseButton.LeftButton)
        assert speech.state == "idle" and not speech.output.playing
        qtbot.waitUntil(lambda: not hearth.answers.streaming, timeout=30_000)
        qtbot.wait(300)
        assert speech.state == "idle"   # the rest of the stopped answer is not picked up again


def test_settings_voice_lists_voices_and_speakers_and_test_speaks_the_dialogs_choice(qtbot, speaker):
    with running_hearth(qtbot) as hearth:
        qtbot.waitUntil(lambda: bool(hearth.speech.controller.voices), timeout=10_000)
        queued = record_sentences(hearth)
        seen: dict = {}

        def in_the_dialog() -> None:
            dialog = QApplication.activeModalWidget()
            tabs = dialog.findChild(QTabWidget)
            tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == "Voice"))
            voice: QComboBox = dialog.editor("voice/speech_voice")
            seen["voices"] = voice.count()
            seen["voice"] = voice.currentData()
            seen["speakers"] = [dialog.editor("voice/output_device").itemText(i)
                                for i in range(dialog.editor("voice/output_device").count())]
            microphones = dialog.editor("voice/device")
            seen["microphones"] = [microphones.itemText(i) for i in range(microphones.count())]
            blocks = dialog.editor("voice/code_blocks")
            seen["code blocks"] = [blocks.itemText(i) for i in range(blocks.count())]
            dialog.editor("voice/speech_rate").setValue(220)
            dialog.editor("voice/speech_voice").setCurrentIndex(voice.findData("en-gb"))
            dialog.button("voice/speech_voice").click()   # Test
            qtbot.waitUntil(lambda: hearth.speech.controller.state == "speaking", timeout=10_000)
            seen["test prefs"] = hearth.speech.controller.prefs_in_use
            dialog.accept()

        QTimer.singleShot(0, in_the_dialog)
        hearth.window.settings_action.trigger()

        assert seen["voices"] > 20 and seen["voice"] == "en-us"
        assert seen["speakers"][0] == "System default" and len(seen["speakers"]) >= 2
        assert seen["microphones"][0] == "System default" and len(seen["microphones"]) >= 2  # picked, not typed
        assert seen["code blocks"] == ["Say \u201ccode block, N lines\u201d", "Skip them"]
        assert [s for _, s in queued] == ["Hello!", "This is how Hearth sounds when it reads an answer aloud."]
        assert seen["test prefs"].rate == 220 and seen["test prefs"].voice == "en-gb"
        assert hearth.settings.get("voice/speech_rate") == 220 and hearth.settings.get("voice/speech_voice") == "en-gb"


def test_with_no_speech_engine_the_speech_controls_are_disabled_and_say_why(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("HEARTH_ESPEAK", "program")
    monkeypatch.setenv("PATH", str(tmp_path))   # no espeak-ng program anywhere
    a_stored_chat()
    with running_hearth(qtbot) as hearth:
        reason = hearth.speech.controller.unavailable_reason()
        assert reason and "espeak-ng" in reason
        assert not hearth.speech.button.isEnabled() and hearth.speech.button.toolTip() == reason
        button = last_widget(hearth).read_aloud_button
        assert not button.isEnabled() and button.toolTip() == reason
        seen: dict = {}

        def in_the_dialog() -> None:
            dialog = QApplication.activeModalWidget()
            test = dialog.button("voice/speech_voice")
            seen["test"] = (test.isEnabled(), test.toolTip())
            dialog.reject()

        QTimer.singleShot(0, in_the_dialog)
        hearth.window.settings_action.trigger()
        assert seen["test"] == (False, reason)
