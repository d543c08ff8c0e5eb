"""Hearth's speech, connected to the window: the Speak answers switch (composer and Chat menu),
the Read aloud buttons, the status bar's Listening / Thinking / Speaking, Settings → Voice's
lists and Test button, and every reason to stop talking (Esc, Stop, a new message, push-to-talk,
another chat).

The speaking itself is `SpeechController`'s; this module only wires it to what it serves.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from app.gui.answer_controller import AnswerController
from app.gui.answer_runner import AnswerRunner
from app.gui.audio_output import output_devices
from app.gui.recorder import available_devices, device_id
from app.gui.read_aloud_buttons import ReadAloudButtons
from app.gui.speak_answers import SpeakAnswersChoice
from app.gui.speech_controller import PREPARING, SAMPLE_SENTENCE, SPEAKING, SpeechController, SpeechPrefs
from app.gui.transcript_controller import TranscriptController
from app.settings import Settings
from engine.speech.synthesis import SpeechSynthesizer, SynthesisError
from engine.store import Store
from ui.main_window import MainWindow
from ui.speech_controls import SpeakAnswersButton, VoicePhaseLabel, set_speech_unavailable, speak_answers_action

SPEECH_KEYS = ("voice/speech_voice", "voice/speech_rate", "voice/speech_volume", "voice/code_blocks",
               "voice/output_device")
TEST_BUTTON = {"voice/speech_voice": "Test"}
CODE_BLOCK_OPTIONS = [("Say \u201ccode block, N lines\u201d", "describe"), ("Skip them", "skip")]


def voice_phase(*, recording: bool, transcribing: bool, answering: bool, speech: str, spoken_chat: bool) -> str:
    """Where a spoken conversation stands, for the status bar. Listening and Thinking belong to a
    chat that speaks its answers; Speaking shows whenever Hearth is talking."""
    if speech == SPEAKING and not recording:
        return "speaking"
    if not spoken_chat:
        return "idle"
    if recording:
        return "listening"
    if transcribing or answering or speech == PREPARING:
        return "thinking"
    return "idle"


class SpeechSetup(QObject):
    row_buttons = TEST_BUTTON   # for the settings dialog

    def __init__(self, window: MainWindow, settings: Settings, store: Store, transcript: TranscriptController,
                 answers: AnswerController, runner: AnswerRunner,
                 synthesizer: Callable[[], SpeechSynthesizer] = SpeechSynthesizer) -> None:
        super().__init__(window)
        self._window, self._settings = window, settings
        self._transcript, self._answers, self._runner = transcript, answers, runner
        self._voice = None
        self.controller = SpeechController(self.prefs, synthesizer, parent=self)
        self.action = speak_answers_action(window)
        window.add_chat_menu_action(self.action)
        self.button = SpeakAnswersButton(self.action)
        self.phase_label = VoicePhaseLabel()
        window.statusBar().insertPermanentWidget(0, self.phase_label)
        self.choice = SpeakAnswersChoice(self.action, store, default=lambda: settings.get("voice/speak_answers"),
                                         current_chat=lambda: transcript.current_id)
        self.buttons = ReadAloudButtons(window.messages)
        speech = self.controller
        answers.answer_progressed.connect(speech.answer_delta)
        answers.answer_finished.connect(speech.answer_ended)
        answers.answer_failed.connect(lambda message_id, _why: speech.answer_ended(message_id))
        runner.retracted.connect(speech.answer_retracted)
        answers.streaming_changed.connect(self._show_phase)
        window.composer.stop_requested.connect(speech.stop)   # Esc and the Stop button
        transcript.left_chat.connect(speech.stop)
        transcript.current_changed.connect(self.choice.show_chat)
        self.choice.changed.connect(self._spoken_chat_changed)
        self.choice.status.connect(self._tell)
        self.action.triggered.connect(self._switched)
        self.buttons.requested.connect(self._read_aloud_pressed)
        speech.reading_changed.connect(self.buttons.show_reading)
        speech.state_changed.connect(self._show_phase)
        speech.failed.connect(self._tell)
        speech.availability_changed.connect(self._show_availability)
        self._show_availability()
        self.choice.show_chat(transcript.current_id)

    # -- what the main controller calls --------------------------------------------------
    def start(self) -> None:
        self.controller.load_voices()

    def watch_voice(self, voice) -> None:
        """The Speak switch goes beside the microphone, whose state feeds Listening / Thinking
        (barge-in is wired where push-to-talk is built)."""
        self._voice = voice
        self._window.composer.add_tool_widget(self.button)
        voice.state_changed.connect(self._show_phase)

    def stop(self) -> None:
        self.controller.stop()

    def shutdown(self) -> None:
        self.controller.shutdown()

    def prefs(self) -> SpeechPrefs:
        return SpeechPrefs.from_values({key: self._settings.get(key) for key in SPEECH_KEYS})

    def settings_changed(self) -> None:
        """Settings → Voice was saved: the default may have changed for chats without their own."""
        self.choice.show_chat(self._transcript.current_id)
        self._show_availability()

    # -- Settings → Voice ------------------------------------------------------------------
    def dialog_options(self, values: dict[str, Any]) -> dict[str, list[tuple[str, Any]]]:
        """The voices and speakers to pick from (they are known only now), and the code block choice.
        The system's voices (QtTextToSpeech) come first: on macOS and Windows they sound best."""
        voices = self.controller.voices
        if not voices and self.controller.synthesizer is not None:
            try:
                voices = self.controller.voices = self.controller.synthesizer.voices()
            except SynthesisError:
                voices = []
        seen: dict[str, str] = {}
        for voice in voices:
            seen.setdefault(voice.language, f"{voice.name} ({voice.language})")
        system = [(voice.label, voice.value) for voice in self.controller.system.voices()]
        speakers = [("System default", ""), *output_devices()]
        microphones = [("System default", ""), *((d.description(), device_id(d)) for d in available_devices())]
        return {"voice/speech_voice": [*system, *((label, language) for language, label in seen.items())] or
                [(values.get("voice/speech_voice", ""), values.get("voice/speech_voice", ""))],
                "voice/output_device": speakers, "voice/device": microphones, "voice/code_blocks": CODE_BLOCK_OPTIONS}

    def connect_test_button(self, dialog) -> None:
        """Test speaks a sample with the voice, rate, volume and speaker chosen in the dialog (a
        system voice needs neither the offline voice nor Hearth's speaker, so the choice matters)."""
        button = dialog.button("voice/speech_voice")

        def show_availability(*_args) -> None:
            reason = self.controller.unavailable_reason(SpeechPrefs.from_values(dialog.result_values()))
            button.setEnabled(reason is None)
            button.setToolTip(reason or "Speak a sample sentence with these settings")

        show_availability()
        dialog.editor("voice/speech_voice").currentIndexChanged.connect(show_availability)
        button.clicked.connect(lambda: self.controller.say(SAMPLE_SENTENCE,
                                                           SpeechPrefs.from_values(dialog.result_values())))

    # -- internals ----------------------------------------------------------------------------
    def _read_aloud_pressed(self, message_id: int) -> None:
        if self.controller.reading == message_id:
            self.controller.stop()
            return
        widget = self._window.messages.widget_for(message_id)
        if widget is not None:
            streaming = self._answers.streaming and self._runner.message_id == message_id
            self.controller.read_aloud(message_id, widget.text(), streaming=streaming)

    def _switched(self, on: bool) -> None:
        """The user flipped Speak answers: an answer being written is read from its start, or silenced."""
        message_id = self._runner.message_id
        if not on:
            self.controller.stop()
        elif self._answers.streaming and message_id is not None and (widget := self._window.messages.widget_for(message_id)):
            self.controller.read_aloud(message_id, widget.text(), streaming=True)

    def _spoken_chat_changed(self, on: bool) -> None:
        self.controller.speak_answers = on
        self._show_phase()

    def _show_availability(self) -> None:
        reason = self.controller.unavailable_reason()
        set_speech_unavailable(self.action, reason)
        self.buttons.set_unavailable(reason)
        self.controller.speak_answers = self.choice.on
        self._show_phase()

    def _show_phase(self, *_args) -> None:
        voice_state = self._voice.state if self._voice is not None else "idle"
        self.phase_label.set_phase(voice_phase(
            recording=voice_state == "recording", transcribing=voice_state == "transcribing",
            answering=self._answers.streaming, speech=self.controller.state, spoken_chat=self.choice.on))

    def _tell(self, message: str) -> None:
        self._window.statusBar().showMessage(message, 15000)
