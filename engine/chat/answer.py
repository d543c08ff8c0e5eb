"""One answer, start to end: plan the prompt, stream it from the endpoint, save the growing
text (at least twice a second and at the end), and report each step as an event.

`answer()` is a generator: iterate it on any thread but the GUI's. Cancelling (`Cancel`) is
seen at every step, including a stream blocked waiting for its next token. Whatever ends the
answer — the last token, Stop, the engine dying, a full disk, Ctrl+C — the answer is kept with
its state: complete, interrupted (some words) or error (none).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace

from engine.cancel import Cancel
from engine.chat.events import AnswerDelta, AnswerEvent, AnswerFailed, AnswerFinished, AnswerPlanned
from engine.chat.prompt import PromptPlanner
from engine.llm.client import ChatError, Sampling, StreamFinished, TextDelta
from engine.llm.endpoint import Endpoint
from engine.store import Store, StoreError
from engine.store.records import Conversation, Message

SAVE_EVERY_S = 0.5
STOPPED_EARLY = "Stopped before the answer began."
log = logging.getLogger("hearth.answer")


@dataclass(frozen=True)
class SamplingDefaults:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512


def sampling_for(conversation: Conversation | None, defaults: SamplingDefaults, seed: int | None = None) -> Sampling:
    """A chat's own sampling settings where it has them, the defaults elsewhere."""
    overrides = conversation.settings if conversation else {}
    return Sampling(temperature=float(overrides.get("chat/temperature", defaults.temperature)),
                    top_p=float(overrides.get("chat/top_p", defaults.top_p)),
                    max_tokens=int(overrides.get("chat/max_tokens", defaults.max_tokens)), seed=seed)


def begin_answer(store: Store, conversation_id: int) -> Message:
    """The answer's row, saved before a token exists: a crash from here on leaves it marked."""
    return store.add_message(conversation_id, "assistant", "", state="streaming")


def answer(store: Store, endpoint: Endpoint, planner: PromptPlanner, answer_id: int, sampling: Sampling,
           cancel: Cancel | None = None) -> Iterator[AnswerEvent]:
    """Fill the answer row `answer_id` (from `begin_answer`) from the endpoint."""
    cancel = cancel or Cancel()
    saver = _Saver(store, answer_id)
    try:
        row = store.get_message(answer_id)
        if row is None:
            yield AnswerFailed(answer_id, "The answer's place in the chat was deleted.", "error")
            return
        if cancel.cancelled:
            yield saver.fail(STOPPED_EARLY, "interrupted")
            return
        prompt = planner.plan(endpoint, row.conversation_id, answer_id, sampling.max_tokens)
        plan = prompt.plan
        yield AnswerPlanned(answer_id, plan.dropped, plan.prompt_tokens, prompt.n_ctx, plan.fits)
        if not plan.fits:  # the server would refuse it with a bare error: say what is wrong
            yield saver.fail(f"Your message is too long for this model's context window (about {plan.prompt_tokens} "
                             f"tokens with the room kept for the answer; the window holds {prompt.n_ctx}). Shorten it, "
                             "or choose a larger context size in Settings.", "error")
            return
        if cancel.cancelled:
            yield saver.fail(STOPPED_EARLY, "interrupted")
            return
        sampling = Sampling(sampling.temperature, sampling.top_p, prompt.max_tokens, sampling.seed)
        with closing(endpoint.client.stream(prompt.messages, sampling, cancel)) as stream:
            for event in stream:
                if isinstance(event, TextDelta):
                    saver.text += event.text  # what the user is shown is what is kept
                    yield AnswerDelta(answer_id, event.text)
                    saver.save_if_due()
                elif isinstance(event, StreamFinished):
                    yield saver.finish(_counted(event, saver.text, endpoint), endpoint.label)
                    return
    except ChatError as exc:
        log.warning("answer %s failed: %s (cause: %r)", answer_id, exc, exc.__cause__)
        yield saver.fail(str(exc))
    except StoreError as exc:
        yield saver.fail(f"The answer could not be saved: {exc}")
    except GeneratorExit:
        saver.fail_quietly("The answer was abandoned.")
        raise
    except BaseException as exc:  # Ctrl+C in `hearth ask`, or a defect: the words are kept
        saver.fail_quietly("Stopped." if isinstance(exc, KeyboardInterrupt) else f"Something went wrong: {exc}")
        if not isinstance(exc, Exception):
            raise
        log.exception("answer %s failed", answer_id)
        yield AnswerFailed(answer_id, f"Something went wrong while answering: {exc}", saver.state_for_failure())


def _counted(event: StreamFinished, text: str, endpoint: Endpoint) -> StreamFinished:
    """A stopped stream ends without the server's usage figures, and Hearth's host sends tokens
    in batches: count what was written with the model's own tokenizer instead."""
    if event.finish_reason != "cancelled" or not text or not endpoint.counts_exactly:
        return event
    exact = endpoint.client.count_tokens(text)
    return replace(event, completion_tokens=exact) if exact else event


class _Saver:
    """The growing answer in the store: at most every SAVE_EVERY_S while it streams, then its end."""

    def __init__(self, store: Store, answer_id: int) -> None:
        self._store = store
        self._id = answer_id
        self.text = ""
        self._saved_len = 0
        self._last_save = time.monotonic()
        self._ended = False

    def save_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_save >= SAVE_EVERY_S and len(self.text) != self._saved_len:
            self._store.update_message(self._id, content=self.text)
            self._last_save, self._saved_len = now, len(self.text)

    def finish(self, event: StreamFinished, model: str) -> AnswerFinished:
        state = "interrupted" if event.finish_reason == "cancelled" else "complete"
        self._store.update_message(
            self._id, content=self.text, state=state, model=model, prompt_tokens=event.prompt_tokens,
            completion_tokens=event.completion_tokens, prompt_ms=event.ttft_ms, decode_ms=event.decode_ms,
            tokens_per_second=event.tokens_per_second)
        self._ended = True
        return AnswerFinished(self._id, state, event, model)

    def state_for_failure(self) -> str:
        return "interrupted" if self.text else "error"

    def fail(self, message: str, state: str | None = None) -> AnswerFailed:
        state = state or self.state_for_failure()
        try:
            self._save_failure(message, state)
        except Exception as exc:  # noqa: BLE001 - e.g. disk full: still tell the user
            if str(exc) not in message:
                message = f"{message} (and saving failed: {exc})"
        return AnswerFailed(self._id, message, state)

    def fail_quietly(self, message: str) -> None:
        try:
            self._save_failure(message, self.state_for_failure())
        except Exception:  # noqa: BLE001 - already on the way out
            pass

    def _save_failure(self, message: str, state: str) -> None:
        if self._ended:
            return
        self._ended = True
        self._store.update_message(self._id, content=self.text, state=state, error=message)
