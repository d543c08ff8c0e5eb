"""The system's own voices, through QtTextToSpeech: macOS ("darwin"), Windows ("winrt", "sapi"),
Linux with speech-dispatcher ("speechd"). They stand beside Hearth's offline voice in Settings → Voice.

A system voice is kept in the settings as "system:<engine>:<locale>:<name>" (macOS has voices of
the same name in several languages). The engine speaks on its own: PySide6 does not bind
`QTextToSpeech.synthesize()` (a C++ template), so the audio cannot go through Hearth's QAudioSink
and plays on the system's default speaker. Sentences are queued with `enqueue()`, `stop()` silences
at once, and the engine's state says when it is speaking.

Anything that goes wrong — an engine that cannot start, reports an error, or does not begin within
`START_TIMEOUT_MS` — becomes one `failed(message, sentences left unspoken)` and the engine is not
used again this session, so the caller can hand the rest to the offline voice; never a hang.

Qt's "mock" engine (silent, for tests) is offered only when `HEARTH_TTS_ENGINE` names it.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QLocale, QObject, QTimer, Signal
from PySide6.QtTextToSpeech import QTextToSpeech, QVoice

PREFIX = "system:"
ENGINE_ENV = "HEARTH_TTS_ENGINE"   # "mock" (tests), "none", or engines to use, comma-separated
TEST_ENGINE = "mock"
START_TIMEOUT_MS = 5000
NORMAL_RATE = 175                  # words a minute that QtTextToSpeech's rate 0 stands for

State = QTextToSpeech.State
ErrorReason = QTextToSpeech.ErrorReason


@dataclass(frozen=True)
class SystemVoice:
    engine: str
    locale: str      # QLocale.name(): "en_GB"
    name: str        # "Anne"

    @property
    def value(self) -> str:
        return f"{PREFIX}{self.engine}:{self.locale}:{self.name}"

    @property
    def label(self) -> str:
        return f"System: {self.name} ({self.locale.replace('_', '-')})"

    @classmethod
    def parse(cls, value: str) -> SystemVoice | None:
        if not is_system_voice(value):
            return None
        engine, _, rest = value[len(PREFIX):].partition(":")
        locale, _, name = rest.partition(":")
        return cls(engine, locale, name) if engine and locale and name else None


def is_system_voice(value: str) -> bool:
    return value.startswith(PREFIX)


def system_engines() -> list[str]:
    """The engines to offer: all Qt has but its silent test engine, or those HEARTH_TTS_ENGINE names."""
    available = QTextToSpeech.availableEngines()
    wanted = os.environ.get(ENGINE_ENV, "").strip()
    if not wanted:
        return [name for name in available if name != TEST_ENGINE]
    names = [name.strip() for name in wanted.split(",")]
    return [name for name in names if name in available]


def qt_rate(words_per_minute: int) -> float:
    """Hearth's words a minute → QtTextToSpeech's -1..1, where ±1 is half or double the normal pace."""
    return max(-1.0, min(1.0, math.log2(max(words_per_minute, 1) / NORMAL_RATE)))


def qt_volume(percent: int) -> float:
    """Hearth's percent of normal loudness → QtTextToSpeech's 0..1 (an engine cannot go louder)."""
    return max(0.0, min(1.0, percent / 100))


class SystemVoices(QObject):
    """Lists the system's voices and speaks sentences with one of them (GUI thread only)."""

    speaking_changed = Signal(bool)   # the engine is (no longer) speaking aloud
    failed = Signal(str, list)        # a message for the status bar, the sentences left unspoken

    def __init__(self, engines: Callable[[], list[str]] = system_engines, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engines = engines
        self._speech: dict[str, QTextToSpeech] = {}
        self._broken: dict[str, str] = {}   # engine → why it is not used again
        self._tts: QTextToSpeech | None = None   # the engine of the current reading
        self._texts: list[str] = []       # handed to the engine since it was last idle
        self._waiting: list[str] = []     # held until an engine still starting up is ready
        self._started = 0                 # of `_texts`, how many the engine has begun
        self._speaking = False
        self._watchdog = QTimer(self, singleShot=True, interval=START_TIMEOUT_MS)
        self._watchdog.timeout.connect(lambda: self._fail("The system voice did not start speaking."))

    # -- what there is -------------------------------------------------------------------
    def voices(self) -> list[SystemVoice]:
        """Every voice of every usable engine, by language then name."""
        found: list[SystemVoice] = []
        for engine in self._engines():
            if (tts := self._engine(engine)) is not None:
                for locale in tts.availableLocales():
                    found += [SystemVoice(engine, v.locale().name(), v.name()) for v in tts.allVoices(locale)]
        return sorted(set(found), key=lambda v: (v.locale, v.name, v.engine))

    def problem(self, value: str) -> str | None:
        """Why this voice cannot speak now (engine missing or broken, voice gone), or None."""
        voice = SystemVoice.parse(value)
        if voice is None:
            return f"“{value}” is not a voice Hearth knows."
        if voice.engine not in self._engines():
            return f"The system voice {voice.name} is not available on this computer."
        if self._engine(voice.engine) is None:
            return self._broken[voice.engine]
        if self._find(voice) is None:
            return f"The system voice {voice.name} ({voice.locale}) is no longer installed."
        return None

    # -- speaking --------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """Sentences were handed over and the engine has not yet finished them."""
        return bool(self._texts or self._waiting)

    def speak(self, sentences: list[str], value: str, rate: int, volume: int) -> None:
        """Queue sentences in `value`'s voice; call `problem(value)` first."""
        voice = SystemVoice.parse(value)
        tts = self._engine(voice.engine) if voice else None
        qvoice = self._find(voice) if voice and tts else None
        sentences = [s for s in sentences if s.strip()]
        if tts is None or qvoice is None or not sentences:
            if sentences:   # the caller skipped `problem()`: hand everything back
                self.failed.emit(self.problem(value) or "The system voice is not available.", sentences)
            return
        if tts is not self._tts or not self.busy:
            self._tts = tts
            if tts.voice() != qvoice:
                tts.setVoice(qvoice)
            tts.setRate(qt_rate(rate))
            tts.setVolume(qt_volume(volume))
        if not self._started:
            self._watchdog.start()
        if tts.state() in (State.Ready, State.Speaking, State.Paused, State.Synthesizing):
            self._hand_over(sentences)
        else:
            self._waiting += sentences   # still starting up: see `_on_state`

    def stop(self) -> None:
        """Silence now; whatever the engine still had is dropped."""
        tts, self._tts = self._tts, None
        self._reset()
        if tts is not None:
            tts.stop(QTextToSpeech.BoundaryHint.Immediate)
        self._set_speaking(False)

    # -- internals -------------------------------------------------------------------------
    def _engine(self, name: str) -> QTextToSpeech | None:
        """The engine, started once; None if it could not start (the reason is in `_broken`)."""
        if name in self._broken:
            return None
        if name not in self._speech:
            tts = QTextToSpeech(name, self)
            if tts.errorReason() != ErrorReason.NoError:
                self._broken[name] = f"The system's speech engine ({name}) could not start: {tts.errorString()}."
                tts.deleteLater()
                return None
            tts.stateChanged.connect(lambda state, tts=tts: self._on_state(tts, state))
            tts.aboutToSynthesize.connect(lambda _id, tts=tts: self._on_started(tts))
            tts.errorOccurred.connect(lambda _reason, message, tts=tts: self._on_error(tts, message))
            self._speech[name] = tts
        return self._speech[name]

    def _find(self, voice: SystemVoice) -> QVoice | None:
        tts = self._speech.get(voice.engine)
        if tts is None:
            return None
        return next((v for v in tts.allVoices(QLocale(voice.locale))
                     if v.name() == voice.name and v.locale().name() == voice.locale), None)

    def _hand_over(self, sentences: list[str]) -> None:
        assert self._tts is not None
        for sentence in sentences:
            self._texts.append(sentence)
            self._tts.enqueue(sentence)

    def _on_started(self, tts: QTextToSpeech) -> None:
        if tts is self._tts and self._texts:
            self._started += 1
            self._watchdog.stop()

    def _on_state(self, tts: QTextToSpeech, state: State) -> None:
        if tts is not self._tts:
            return
        if state == State.Error:
            self._on_error(tts, tts.errorString())
        elif state == State.Speaking:
            self._set_speaking(True)
        elif state == State.Ready and self._waiting:
            waiting, self._waiting = self._waiting, []
            self._hand_over(waiting)
        elif state == State.Ready and self._started:   # a Ready before anything began is stale
            self._reset()
            self._set_speaking(False)

    def _on_error(self, tts: QTextToSpeech, message: str) -> None:
        message = f"The system voice failed: {message.rstrip('.') or 'no reason given'}."
        if tts is self._tts and self.busy:
            self._fail(message)
        elif self._speech.get(tts.engine()) is tts:
            self._drop(tts, message)   # while quiet: the next reading is told why, by `problem()`

    def _fail(self, message: str) -> None:
        """Stop, never use this engine again this session, and hand back what was not said."""
        tts, self._tts = self._tts, None
        unspoken = self._texts[max(self._started - 1, 0):] + self._waiting
        self._reset()
        if tts is not None:
            self._drop(tts, message)
        self._speaking = False   # no signal: the caller hears of it through `failed`
        self.failed.emit(message, unspoken)

    def _drop(self, tts: QTextToSpeech, message: str) -> None:
        if tts is self._tts:
            self._tts = None
        self._broken[tts.engine()] = message
        self._speech.pop(tts.engine(), None)
        tts.stop(QTextToSpeech.BoundaryHint.Immediate)
        tts.deleteLater()

    def _reset(self) -> None:
        self._watchdog.stop()
        self._texts, self._waiting, self._started = [], [], 0

    def _set_speaking(self, speaking: bool) -> None:
        if speaking != self._speaking:
            self._speaking = speaking
            self.speaking_changed.emit(speaking)
