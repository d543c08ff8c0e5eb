"""Push-to-talk glue: Recorder (mic) → Transcriber (off the GUI thread) → text signals.

The UI calls `press()` / `release()` (wired to the button's and F9's hold signals) and
listens to `state_changed`, `level_changed`, `elapsed_changed`, `transcript_ready` (text
for the composer to show and let the user edit), `send_requested` (instead of
`transcript_ready` when `send_immediately` is on) and `voice_failed` (a message to show).
Takes are transcribed in order; `cancel()` drops everything in flight, so a transcript
never lands in a conversation the user has left.
"""
from __future__ import annotations

from collections import deque

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.gui.operations import Tickets, run_in_background
from app.gui.recorder import Recorder
from engine.cancel import Cancel
from engine.speech import SpeechCancelled, SpeechError, Transcriber, Transcript

IDLE, RECORDING, TRANSCRIBING = "idle", "recording", "transcribing"


class VoiceController(QObject):
    state_changed = Signal(str)
    level_changed = Signal(float)
    elapsed_changed = Signal(float)
    transcript_ready = Signal(str)
    send_requested = Signal(str)
    voice_failed = Signal(str)
    model_loaded = Signal()

    def __init__(
        self,
        transcriber: Transcriber | None = None,
        recorder: Recorder | None = None,
        *,
        send_immediately: bool = False,
        language: str | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.transcriber = transcriber or Transcriber()
        self.recorder = recorder or Recorder(parent=self)
        self.send_immediately = send_immediately
        self.language = language
        self._tickets = Tickets()
        self._ticket = self._tickets.next()
        self._cancel = Cancel()
        self._waiting: deque[np.ndarray] = deque()
        self._busy = False
        self._state = IDLE
        self.recorder.level_changed.connect(self.level_changed)
        self.recorder.elapsed_changed.connect(self.elapsed_changed)
        self.recorder.finished.connect(self._on_recorded)
        self.recorder.failed.connect(self._on_record_failed)

    @property
    def state(self) -> str:
        return self._state

    def unavailable_reason(self) -> str | None:
        """Why push-to-talk cannot work now (no microphone…), for the button's tooltip."""
        return self.recorder.unavailable_reason()

    def preload(self) -> None:
        """Load the Whisper model in the background so the first release is quick."""
        def failed(exc: BaseException) -> None:
            self.voice_failed.emit(_message(exc))

        run_in_background(self.transcriber.load, on_success=lambda _m: self.model_loaded.emit(), on_failure=failed)

    def press(self) -> None:
        """The user started holding the button or key."""
        if self.recorder.start():
            self._update_state()

    def release(self) -> None:
        """The user let go: the recorder keeps a short tail, then the take is transcribed."""
        self.recorder.stop()

    def cancel(self) -> None:
        """Drop the current take and every transcript still in flight."""
        self.recorder.cancel()
        self._cancel.cancel()
        self._cancel = Cancel()
        self._ticket = self._tickets.next()
        self._waiting.clear()
        self._busy = False
        self._update_state()

    # --- internals -------------------------------------------------------------
    def _on_recorded(self, samples: np.ndarray) -> None:
        self._waiting.append(samples)
        self._transcribe_next()
        self._update_state()

    def _on_record_failed(self, message: str) -> None:
        self._update_state()
        self.voice_failed.emit(message)

    def _transcribe_next(self) -> None:
        if self._busy or not self._waiting:
            return
        self._busy = True
        samples = self._waiting.popleft()
        transcriber, language, cancel = self.transcriber, self.language, self._cancel

        def work() -> Transcript:
            return transcriber.transcribe(samples, language=language, cancel=cancel)

        run_in_background(work, on_success=self._on_transcribed, on_failure=self._on_failed,
                          ticket=self._ticket, tickets=self._tickets)

    def _on_transcribed(self, transcript: Transcript) -> None:
        self._busy = False
        (self.send_requested if self.send_immediately else self.transcript_ready).emit(transcript.text)
        self._transcribe_next()
        self._update_state()

    def _on_failed(self, exc: BaseException) -> None:
        self._busy = False
        if not isinstance(exc, SpeechCancelled):
            self.voice_failed.emit(_message(exc))
        self._transcribe_next()
        self._update_state()

    def _update_state(self) -> None:
        state = RECORDING if self.recorder.recording else TRANSCRIBING if self._busy or self._waiting else IDLE
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)


def _message(exc: BaseException) -> str:
    if isinstance(exc, SpeechError):
        return str(exc)
    return f"Transcription failed: {exc}"
