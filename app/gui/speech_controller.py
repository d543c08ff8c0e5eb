"""Hearth speaking: answers read aloud sentence by sentence while they are still being written.

Text goes through `SentenceStream` (markdown → what a person reads out), each finished sentence
is synthesized on a one-thread pool of its own (in order, never on the GUI thread), and its
audio is queued on `AudioOutput`. So sentence two is being made while sentence one plays.

- `read_aloud(id, text)` reads a whole answer (or, with `streaming=True`, reads what is there
  and keeps up with the rest); `say(text)` is the settings' Test button.
- `answer_delta` / `answer_ended` follow an answer as it streams when `speak_answers` is on.
- `stop()` (Esc, Stop, a new message, push-to-talk) silences at once, drops every sentence in
  flight (a ticket, as for transcripts) and leaves the answer that was being spoken unspoken.

Signals: `state_changed` ("idle" | "preparing" | "speaking"), `reading_changed(message id, 0 for
none)` for the Read aloud buttons, `sentence_queued(text)` as each sentence goes to synthesis,
and `failed(message)` for the status bar.

A system voice ("system:…", see `system_voices.py`) speaks through QtTextToSpeech instead of the
pool and `AudioOutput`; if it is missing or breaks down, the offline voice says the rest.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from app.gui.audio_output import AudioOutput
from app.gui.operations import Tickets, run_in_background
from app.gui.system_voices import SystemVoices, is_system_voice
from engine.cancel import Cancel
from engine.speech.spoken_text import SentenceStream
from engine.speech.synthesis import (DEFAULT_RATE, DEFAULT_VOICE, DEFAULT_VOLUME, SpeechAudio, SpeechSynthesizer,
                                     SynthesisCancelled, SynthesisError, Voice)

IDLE, PREPARING, SPEAKING = "idle", "preparing", "speaking"
SAMPLE_SENTENCE = "Hello! This is how Hearth sounds when it reads an answer aloud."
SAMPLE = -1          # the "message id" of the Test button's sentence
INSTEAD = "Hearth's own voice speaks instead."


@dataclass(frozen=True)
class SpeechPrefs:
    """How to speak: from Settings → Voice (or the dialog's values, for its Test button)."""
    voice: str = DEFAULT_VOICE
    rate: int = DEFAULT_RATE
    volume: int = DEFAULT_VOLUME
    code_blocks: str = "describe"
    device: str = ""

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> SpeechPrefs:
        return cls(voice=values.get("voice/speech_voice") or DEFAULT_VOICE,
                   rate=int(values.get("voice/speech_rate", DEFAULT_RATE)),
                   volume=int(values.get("voice/speech_volume", DEFAULT_VOLUME)),
                   code_blocks=values.get("voice/code_blocks") or "describe",
                   device=values.get("voice/output_device") or "")


class SpeechController(QObject):
    state_changed = Signal(str)
    reading_changed = Signal(int)    # the message being read aloud; 0 when none
    sentence_queued = Signal(str)
    failed = Signal(str)
    availability_changed = Signal()

    def __init__(self, prefs: Callable[[], SpeechPrefs], synthesizer: Callable[[], SpeechSynthesizer] = SpeechSynthesizer,
                 output: AudioOutput | None = None, system: SystemVoices | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._prefs = prefs
        self._engine_problem: str | None = None
        try:
            self.synthesizer: SpeechSynthesizer | None = synthesizer()
        except SynthesisError as exc:
            self.synthesizer, self._engine_problem = None, str(exc)
        self.output = output or AudioOutput(prefs().device, parent=self)
        self.output.playing_changed.connect(self._on_playing)
        self.output.failed.connect(self._on_output_failed)
        self.output.devices_changed.connect(self.availability_changed)
        self.system = system or SystemVoices(parent=self)
        self.system.speaking_changed.connect(self._on_playing)
        self.system.failed.connect(self._system_failed)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # sentences are made in order, one at a time
        self._tickets = Tickets()
        self._ticket = self._tickets.next()
        self._cancel = Cancel()
        self.speak_answers = False
        self.voices: list[Voice] = []
        self._reading = 0                 # the message whose words are being spoken (0: none)
        self._stream: SentenceStream | None = None   # open while that answer is still streaming
        self._muted: set[int] = set()     # answers the user silenced: never picked up again
        self._in_flight = 0               # sentences handed to synthesis, not yet queued to play
        self._heard = False               # some of this reading has reached the speaker
        self._state = IDLE
        self._announced = 0               # the reading the buttons were last told about
        self._current = SpeechPrefs()

    # -- availability ------------------------------------------------------------------
    def unavailable_reason(self, prefs: SpeechPrefs | None = None) -> str | None:
        """Why Hearth cannot speak (no speech engine, no speaker), for disabled controls' tooltips.
        A working system voice needs neither the offline voice nor Hearth's speaker."""
        voice = (prefs or self._prefs()).voice
        if is_system_voice(voice) and self.system.problem(voice) is None:
            return None
        if self._engine_problem:
            return f"Hearth cannot speak: {self._engine_problem}"
        reason = self.output.unavailable_reason()
        return f"Hearth cannot speak: {reason}" if reason else None

    def load_voices(self) -> None:
        """List the voices in the background (the settings page shows them)."""
        if self.synthesizer is None:
            return
        synthesizer = self.synthesizer

        def loaded(voices: list[Voice]) -> None:
            self.voices = voices

        run_in_background(synthesizer.voices, on_success=loaded, on_failure=lambda _exc: None, pool=self._pool)

    # -- state -------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def reading(self) -> int:
        return self._reading

    @property
    def prefs_in_use(self) -> SpeechPrefs:
        """The voice, rate, volume and speaker of what is being (or was last) said."""
        return self._current

    # -- what to say ---------------------------------------------------------------------
    def read_aloud(self, message_id: int, text: str, *, streaming: bool = False) -> None:
        """Read an answer from its start; `streaming`: it is still being written, keep up with it."""
        if not self._begin(message_id):
            return
        self._stream = SentenceStream(code_blocks=self._current.code_blocks)
        self._speak(self._stream.feed(text))
        if not streaming:
            self._speak(self._stream.flush())
            self._stream = None
        self._update()

    def say(self, text: str, prefs: SpeechPrefs | None = None) -> None:
        """Speak a piece of markdown now, with `prefs` in place of the settings (the Test button)."""
        if not self._begin(SAMPLE, prefs):
            return
        stream = SentenceStream(code_blocks=self._current.code_blocks)
        self._speak([*stream.feed(text), *stream.flush()])
        self._update()

    def answer_delta(self, message_id: int, text: str) -> None:
        """More of a streaming answer: its finished sentences are spoken (if answers are)."""
        if message_id != self._reading:
            if not self.speak_answers or message_id in self._muted or not self._begin(message_id):
                return
            self._stream = SentenceStream(code_blocks=self._current.code_blocks)
        if self._stream is not None:
            self._speak(self._stream.feed(text))
            self._update()

    def answer_ended(self, message_id: int) -> None:
        """The answer is complete (or stopped, or failed): say what is left of it."""
        if message_id == self._reading and self._stream is not None:
            stream, self._stream = self._stream, None
            self._speak(stream.flush())
            self._update()

    def answer_retracted(self, message_id: int, text: str) -> None:
        """What streamed so far was the model's thought after all: stop it, speak only the answer."""
        if message_id == self._reading and self._stream is not None:
            self._silence()
            self._stream = SentenceStream(code_blocks=self._current.code_blocks)
            self._update()

    def stop(self) -> None:
        """Quiet, now; the answer being spoken stays unspoken even as it goes on streaming."""
        if self._reading:
            self._muted.add(self._reading)
        self._silence()
        self._reading, self._stream = 0, None
        self._update()

    def shutdown(self) -> None:
        self.stop()
        self._pool.waitForDone(3000)
        if self.synthesizer is not None:
            self.synthesizer.close()

    # -- internals -------------------------------------------------------------------------
    def _begin(self, message_id: int, prefs: SpeechPrefs | None = None) -> bool:
        """Whatever was being said stops; a new reading starts (False: Hearth cannot speak)."""
        self.stop()
        self._muted.discard(message_id)
        self._current = self._usable(prefs or self._prefs())
        self.output.set_device_id(self._current.device)
        if reason := self.unavailable_reason(self._current):
            self.failed.emit(reason)
            return False
        self._reading = message_id
        self._heard = False
        return True

    def _usable(self, prefs: SpeechPrefs) -> SpeechPrefs:
        """`prefs`, or with the offline voice if its system voice cannot speak (the status bar says why)."""
        if is_system_voice(prefs.voice) and (problem := self.system.problem(prefs.voice)):
            self.failed.emit(f"{problem} {INSTEAD}")
            return replace(prefs, voice=DEFAULT_VOICE)
        return prefs

    def _speak(self, sentences: list[str], announce: bool = True) -> None:
        synthesizer, prefs, cancel, ticket = self.synthesizer, self._current, self._cancel, self._ticket
        if is_system_voice(prefs.voice):
            for sentence in sentences:
                self.sentence_queued.emit(sentence)
            self.system.speak(sentences, prefs.voice, prefs.rate, prefs.volume)
            return
        assert synthesizer is not None
        for sentence in sentences:
            self._in_flight += 1
            if announce:
                self.sentence_queued.emit(sentence)

            def work(sentence: str = sentence) -> SpeechAudio:
                return synthesizer.synthesize(sentence, prefs.voice, prefs.rate, prefs.volume, cancel)

            run_in_background(work, on_success=self._synthesized, on_failure=self._synthesis_failed,
                              ticket=ticket, tickets=self._tickets, pool=self._pool)

    def _synthesized(self, audio: SpeechAudio) -> None:
        self._in_flight -= 1
        if audio.pcm:
            self.output.play(audio.pcm, audio.sample_rate, audio.text)
        self._update()

    def _synthesis_failed(self, exc: BaseException) -> None:
        self._in_flight -= 1
        if not isinstance(exc, SynthesisCancelled):
            self.stop()
            self.failed.emit(str(exc) if isinstance(exc, SynthesisError) else f"Speech failed: {exc}")
        self._update()

    def _silence(self) -> None:
        self._cancel.cancel()       # a sentence being made is abandoned mid-way
        self._cancel = Cancel()
        self._ticket = self._tickets.next()
        self._in_flight = 0
        self.output.stop()
        self.system.stop()

    def _system_failed(self, message: str, unspoken: list[str]) -> None:
        """The system voice broke down: the offline voice says what it had left, if there is one."""
        self._current = replace(self._current, voice=DEFAULT_VOICE)
        if reason := self.unavailable_reason(self._current):
            self.stop()
            self.failed.emit(f"{message} {reason}")
            return
        self.failed.emit(f"{message} {INSTEAD}")
        if self._reading:
            self._speak(unspoken, announce=False)
        self._update()

    def _on_playing(self, playing: bool) -> None:
        self._heard = self._heard or playing
        self._update()

    def _on_output_failed(self, message: str) -> None:
        self.stop()
        self.failed.emit(message)
        self.availability_changed.emit()

    def _update(self) -> None:
        """Done when the answer has ended, every sentence is made and the last one heard."""
        if (self._reading and self._stream is None and not self._in_flight and not self.output.playing
                and not self.system.busy):
            self._reading = 0
        state = IDLE if not self._reading else SPEAKING if self._heard else PREPARING
        if self._announced != self._reading:
            self._announced = self._reading
            self.reading_changed.emit(self._reading)
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)
