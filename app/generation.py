"""The generation worker: streams one answer on its own QThread, saves the growing text to the
store at least once a second and at the end, and reports each delta as a signal."""
from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, QThread, Signal

from engine.llm.client import ChatClient, ChatError, Sampling, StreamCancel, StreamFinished, TextDelta

SAVE_EVERY_S = 0.5
log = logging.getLogger("hearth.generation")


class GenerationWorker(QObject):
    planned = Signal(int, int)            # message id, conversation messages left out of the prompt
    delta = Signal(int, str)              # message id, text
    finished = Signal(int, object)        # message id, StreamFinished
    failed = Signal(int, str, str)        # message id, user message, state ('error'|'interrupted')

    def __init__(self, store, client: ChatClient, message_id: int, build_prompt,
                 sampling: Sampling, model_label: str) -> None:
        """build_prompt() -> (messages, dropped) runs on the worker thread: it may count tokens
        over HTTP and read image files, neither of which belongs on the GUI thread."""
        super().__init__()
        self._store = store
        self._client = client
        self.message_id = message_id
        self._build_prompt = build_prompt
        self._sampling = sampling
        self._model = model_label
        self.cancel_token = StreamCancel()

    def run(self) -> None:
        text = ""
        last_save = time.monotonic()
        saved_len = 0
        try:
            messages, dropped = self._build_prompt()
            self.planned.emit(self.message_id, dropped)
            for event in self._client.stream(messages, self._sampling, self.cancel_token):
                if isinstance(event, TextDelta):
                    text += event.text
                    self.delta.emit(self.message_id, event.text)
                    now = time.monotonic()
                    if now - last_save >= SAVE_EVERY_S and len(text) != saved_len:
                        self._store.update_message(self.message_id, content=text)
                        last_save, saved_len = now, len(text)
                elif isinstance(event, StreamFinished):
                    state = "interrupted" if event.finish_reason == "cancelled" else "complete"
                    self._store.update_message(
                        self.message_id, content=text, state=state, model=self._model,
                        prompt_tokens=event.prompt_tokens, completion_tokens=event.completion_tokens,
                        prompt_ms=event.ttft_ms, decode_ms=event.decode_ms,
                        tokens_per_second=event.tokens_per_second)
                    self.finished.emit(self.message_id, event)
                    return
        except ChatError as exc:
            log.warning("answer %s failed: %s (cause: %r)", self.message_id, exc, exc.__cause__,
                        exc_info=exc if log.isEnabledFor(logging.DEBUG) else None)
            self._fail(text, str(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must always report back
            self._fail(text, f"Something went wrong while answering: {exc}")

    def _fail(self, text: str, message: str) -> None:
        state = "interrupted" if text else "error"
        try:
            self._store.update_message(self.message_id, content=text, state=state, error=message)
        except Exception as exc:  # noqa: BLE001 - e.g. disk full: still tell the user
            message = f"{message} (and saving failed: {exc})"
        self.failed.emit(self.message_id, message, state)


class GenerationThread(QThread):
    """Owns one worker; `stop()` closes its stream so the server stops generating."""

    def __init__(self, worker: GenerationWorker, parent=None) -> None:
        super().__init__(parent)
        self.worker = worker

    def run(self) -> None:
        self.worker.run()

    def stop(self) -> None:
        self.worker.cancel_token.cancel()
