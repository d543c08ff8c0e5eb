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
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, replace

from engine.cancel import Cancel
from engine.chat.events import AnswerDelta, AnswerEvent, AnswerFailed, AnswerFinished, AnswerPlanned
from engine.chat.prompt import PromptPlanner, assistant_calls, tool_turn
from engine.chat.think_budget import (NO_THOUGHT, THINK_KEY, ThinkLevel, ThinkPlan, ThoughtMeter, closed_thought,
                                      think_plan)
from engine.chat.events import AnswerRetracted, SourcesRetrieved, ThinkingDelta, ToolStepChanged
from engine.chat.excerpts import Retriever, excerpts_block
from engine.llm.client import (ChatError, ReasoningDelta, Sampling, StreamFinished, TextDelta, ToolCall,
                               ToolCallsRequested)
from engine.llm.thinking import Split, ThinkSplitter
from engine.llm.endpoint import Endpoint
from engine.store import Store, StoreError
from engine.store.answer_sources import save_sources
from engine.store.records import Assistant, Conversation, Message, ToolStep
from engine.tools.approval import ALWAYS_ASK, Approval, Approver, ToolRequest, deny_all
from engine.tools.registry import ToolRegistry

SAVE_EVERY_S = 0.5
STOPPED_EARLY = "Stopped before the answer began."
MAX_TOOL_ROUNDS = 6
CHAT_ALLOWED_KEY = "tools/allowed"   # in a conversation's settings: tools allowed for the whole chat
TOOLS_KEY = "tools/enabled"          # in a conversation's settings: the chat's own choice of tools
DENIED = "Denied by the user: this call did not run."
STOPPED_TOOL = "Stopped by the user before this call finished."
log = logging.getLogger("hearth.answer")


@dataclass(frozen=True)
class SamplingDefaults:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    think: str = "long"   # a ThinkLevel's value


def think_for(conversation: Conversation | None, defaults: SamplingDefaults,
              assistant: Assistant | None = None) -> ThinkPlan:
    """A chat's own think budget where it set one, else its assistant's, else the default."""
    overrides = conversation.settings if conversation else {}
    default = ThinkLevel.parse(defaults.think, ThinkLevel.LONG)
    if assistant is not None and assistant.think:
        default = ThinkLevel.parse(assistant.think, default)
    return think_plan(ThinkLevel.parse(overrides.get(THINK_KEY, default.value), default))


def tokens_to_keep(max_tokens: int, think: ThinkPlan | None, endpoint: Endpoint) -> int:
    """Room the prompt leaves for the answer, and for its thought when the model is known to think."""
    return max_tokens + (think.room(endpoint.plan.n_ctx) if think and endpoint.plan.thinks_in_tags else 0)


def sampling_for(conversation: Conversation | None, defaults: SamplingDefaults, seed: int | None = None,
                 assistant: Assistant | None = None) -> Sampling:
    """A chat's own sampling settings where it has them, else its assistant's, else the defaults."""
    overrides = conversation.settings if conversation else {}
    own = assistant or Assistant(0, "")

    def pick(key: str, mine: float | int | None, default: float | int) -> float | int:
        return overrides.get(key, mine if mine is not None else default)

    return Sampling(temperature=float(pick("chat/temperature", own.temperature, defaults.temperature)),
                    top_p=float(pick("chat/top_p", own.top_p, defaults.top_p)),
                    max_tokens=int(pick("chat/max_tokens", own.max_tokens, defaults.max_tokens)), seed=seed)


def tool_names_for(conversation: Conversation | None, assistant: Assistant | None,
                   default: Sequence[str]) -> tuple[str, ...]:
    """The tools a chat's answers may offer: the chat's own choice, else its assistant's (which
    may be none at all), else the default."""
    chosen = conversation.settings.get(TOOLS_KEY) if conversation else None
    if chosen:
        return tuple(name.strip() for name in str(chosen).split(",") if name.strip())
    if assistant is not None and assistant.tools is not None:
        return assistant.tools
    return tuple(default)


def begin_answer(store: Store, conversation_id: int) -> Message:
    """The answer's row, saved before a token exists: a crash from here on leaves it marked."""
    return store.add_message(conversation_id, "assistant", "", state="streaming")


def answer(store: Store, endpoint: Endpoint, planner: PromptPlanner, answer_id: int, sampling: Sampling,
           cancel: Cancel | None = None, *, tools: ToolRegistry | None = None, approver: Approver = deny_all,
           tool_choice: str | dict | None = None, max_rounds: int = MAX_TOOL_ROUNDS,
           think: ThinkPlan | None = None, knowledge: Retriever | None = None) -> Iterator[AnswerEvent]:
    """Fill the answer row `answer_id` (from `begin_answer`) from the endpoint.

    With `tools`, the model may ask for calls: each is saved, shown to `approver` (which may
    block until the user answers), run if allowed, saved with its result and fed back, for at
    most `max_rounds` rounds; the last round is asked to answer without tools. `tool_choice`
    (e.g. a named tool) applies to the first round only. `think` bounds a reasoning model's
    thought (engine/chat/think_budget.py); without it the model thinks as long as it likes.
    With `knowledge` (engine/chat/excerpts.py's collection_retriever), the question first
    retrieves passages of the user's documents: saved with the answer, reported as
    SourcesRetrieved, and put before the question, numbered, as data to cite.
    """
    cancel = cancel or Cancel()
    meter = ThoughtMeter(think.budget if think else None,
                         endpoint.client.count_tokens if endpoint.counts_exactly else None)
    saver = _Saver(store, answer_id, meter)
    try:
        row = store.get_message(answer_id)
        if row is None:
            yield AnswerFailed(answer_id, "The answer's place in the chat was deleted.", "error")
            return
        if cancel.cancelled:
            yield saver.fail(STOPPED_EARLY, "interrupted")
            return
        offered = tools.openai_tools() if tools else []
        keep = tokens_to_keep(sampling.max_tokens, think, endpoint)
        excerpts = ""
        if knowledge is not None:
            found = planner.retrieve(endpoint, row.conversation_id, answer_id, keep, knowledge)
            save_sources(store, answer_id, found.sources)
            yield SourcesRetrieved(answer_id, found.sources, found.notes)
            excerpts = excerpts_block(found.sources)
        rounds: list[dict] = []  # this answer's earlier rounds (calls and results), newest last
        stats: StreamFinished | None = None
        for number in range(max_rounds + 1):
            prompt = planner.plan(endpoint, row.conversation_id, answer_id, keep, extra=rounds, excerpts=excerpts)
            plan = prompt.plan
            if number == 0:
                first_kept = next((m["_id"] for m in plan.messages if "_id" in m), None)
                yield AnswerPlanned(answer_id, plan.dropped, plan.prompt_tokens, prompt.n_ctx, plan.fits, first_kept)
            if not plan.fits and not _has_images(prompt.messages):  # the server would refuse it with a bare
                # error: say what is wrong (an image's cost is only guessed, so the server decides then)
                yield saver.fail(_too_long(plan.prompt_tokens, prompt.n_ctx))
                return
            if cancel.cancelled:
                yield saver.fail(STOPPED_EARLY if not saver.text else "Stopped.", "interrupted")
                return
            choice = (tool_choice if number == 0 and tool_choice is not None else "auto") if number < max_rounds else "none"
            round_sampling = Sampling(sampling.temperature, sampling.top_p, prompt.max_tokens, sampling.seed)
            round_start = len(saver.text)
            calls, finished = yield from _stream_round(endpoint, prompt.messages, round_sampling, cancel, saver,
                                                       meter, think, offered, choice if offered else None)
            stats = _added(stats, _counted(finished, saver.text[round_start:], endpoint))
            if not calls or not tools or number == max_rounds or finished.finish_reason == "cancelled":
                yield saver.finish(stats, endpoint.label)
                return
            saver.save_now()
            preamble = saver.text[round_start:]
            rounds.append(assistant_calls(preamble, [(c.id, c.name, c.arguments) for c in calls]))
            for index, call in enumerate(calls):
                step = store.add_tool_step(answer_id, round=number, call_id=call.id, name=call.name,
                                           arguments=call.arguments, preamble=preamble if index == 0 else "")
                yield ToolStepChanged(answer_id, step)
                step = yield from _run_step(store, tools, approver, row.conversation_id, answer_id, step, cancel)
                rounds.append(tool_turn(step))
            if cancel.cancelled:
                yield saver.finish(replace(stats, finish_reason="cancelled"), endpoint.label)
                return
        yield saver.finish(stats, endpoint.label)
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


def _stream_round(endpoint: Endpoint, messages: list[dict], sampling: Sampling, cancel: Cancel, saver: "_Saver",
                  meter: ThoughtMeter, think: ThinkPlan | None, offered: list[dict], choice: str | dict | None):
    """One round from the model: its words, its thought and the calls it asks for. A thought
    that outruns the budget is closed (`</think>` after it) and the model continues from there
    to its answer; Off writes an empty thought first where the model thinks in tags.
    Returns (calls, figures)."""
    prefill = NO_THOUGHT if think and think.ask_not_to_think and endpoint.plan.thinks_in_tags else None
    ask_not_to_think = bool(think and think.ask_not_to_think and endpoint.plan.local is None)
    calls: tuple[ToolCall, ...] = ()
    total: StreamFinished | None = None
    while True:
        started = time.perf_counter()
        first: float | None = None
        finished: StreamFinished | None = None
        thought_from = len(saver.thinking)
        over_budget = False
        sent = [*messages, prefill] if prefill else messages
        with closing(endpoint.client.stream(sent, sampling, cancel, tools=offered, tool_choice=choice,
                                            continue_final=prefill is not None,
                                            no_thinking=ask_not_to_think)) as stream:
            splitter = ThinkSplitter(answering=prefill is not None, thinking=endpoint.plan.thought.opened)
            for event in stream:
                if isinstance(event, TextDelta):
                    split = splitter.feed(event.text)
                elif isinstance(event, ReasoningDelta):  # after a closed thought, a server's parser
                    # may still call the answer reasoning (it never saw `</think>` in the output)
                    split = Split(answer=event.text) if prefill else Split(thinking=event.text)
                elif isinstance(event, ToolCallsRequested):
                    calls = event.calls
                    continue
                else:
                    finished = event
                    continue
                first = first or time.perf_counter()
                yield from saver.take(split)
                saver.save_if_due()
                if split.thinking and meter.add(saver.thinking):
                    over_budget = True
                    break
            else:
                yield from saver.take(splitter.finish())
        if over_budget:  # the stream is closed: its own figures never came
            now = time.perf_counter()
            finished = StreamFinished("length", meter.count_of(saver.thinking[thought_from:]), None,
                                      ((first or now) - started) * 1000.0, (now - (first or now)) * 1000.0)
        total = _added(total, finished)
        if not over_budget or cancel.cancelled:
            return calls, total
        log.info("thought closed at its budget of %s tokens", meter.budget)
        prefill = closed_thought(saver.thinking[thought_from:])


def _has_images(messages: list[dict]) -> bool:
    return any(isinstance(m.get("content"), list) and any(p.get("type") != "text" for p in m["content"])
               for m in messages)


def _too_long(tokens: int, n_ctx: int) -> str:
    return (f"Your message is too long for this model's context window (about {tokens} tokens with the room "
            f"kept for the answer; the window holds {n_ctx}). Shorten it, or choose a larger context size in Settings.")


def _run_step(store: Store, tools: ToolRegistry, approver: Approver, conversation_id: int, answer_id: int,
              step: ToolStep, cancel: Cancel):
    """Ask, run, save: each change is saved before it is reported. Returns the final step."""
    conversation = store.get_conversation(conversation_id)
    allowed_here = (conversation.settings.get(CHAT_ALLOWED_KEY, []) if conversation else [])
    if tools.get(step.name) is None:  # nothing to ask about: the model named a tool it was not given
        store.update_tool_step(step.id, state="failed", ok=False, result=tools.run(step.name, step.arguments, cancel).text)
        final = _step(store, answer_id, step.id)
        yield ToolStepChanged(answer_id, final)
        return final
    if cancel.cancelled:
        approval = None
    elif step.name in allowed_here and step.name not in ALWAYS_ASK:
        approval = Approval.AUTO
    else:
        tool = tools.get(step.name)
        approval = approver(ToolRequest(conversation_id, answer_id, step.id, step.name, step.arguments,
                                        tool.spec.description if tool else ""), cancel)
    if cancel.cancelled or approval is None:
        store.update_tool_step(step.id, state="stopped", result=STOPPED_TOOL)
    elif not approval.allowed:
        store.update_tool_step(step.id, state="denied", approval=Approval.DENIED.value, result=DENIED)
    else:
        if approval is Approval.CHAT and step.name not in ALWAYS_ASK and conversation is not None:
            store.update_conversation(conversation_id, settings={
                **conversation.settings, CHAT_ALLOWED_KEY: sorted({*allowed_here, step.name})})
        store.update_tool_step(step.id, state="running", approval=approval.value)
        yield ToolStepChanged(answer_id, _step(store, answer_id, step.id))
        result = tools.run(step.name, step.arguments, cancel)
        if cancel.cancelled and not result.ok:
            store.update_tool_step(step.id, state="stopped", result=result.text or STOPPED_TOOL, ok=False,
                                   elapsed_s=result.elapsed_s)
        else:
            store.update_tool_step(step.id, state="done" if result.ok else "failed", result=result.text,
                                   ok=result.ok, elapsed_s=result.elapsed_s)
    final = _step(store, answer_id, step.id)
    yield ToolStepChanged(answer_id, final)
    return final


def _step(store: Store, answer_id: int, step_id: int) -> ToolStep:
    return next(s for s in store.tool_steps_for([answer_id])[answer_id] if s.id == step_id)


def _added(total: StreamFinished | None, more: StreamFinished | None) -> StreamFinished | None:
    """One answer's figures over its rounds: tokens and decoding add up; the first token is the first round's."""
    if total is None or more is None:
        return more or total
    prompt = more.prompt_tokens if more.prompt_tokens is not None else total.prompt_tokens
    return StreamFinished(more.finish_reason, total.completion_tokens + more.completion_tokens, prompt,
                          total.ttft_ms, total.decode_ms + more.decode_ms)


def _counted(event: StreamFinished | None, text: str, endpoint: Endpoint) -> StreamFinished | None:
    """A stopped stream ends without the server's usage figures, and Hearth's host sends tokens
    in batches: count what was written with the model's own tokenizer instead."""
    if event is None or event.finish_reason != "cancelled" or not text or not endpoint.counts_exactly:
        return event
    exact = endpoint.client.count_tokens(text)
    return replace(event, completion_tokens=exact) if exact else event


class _Saver:
    """The growing answer in the store: at most every SAVE_EVERY_S while it streams, then its end."""

    def __init__(self, store: Store, answer_id: int, meter: ThoughtMeter) -> None:
        self._store = store
        self._id = answer_id
        self._meter = meter   # counts the thought's tokens once it is final
        self.text = ""
        self.thinking = ""
        self._thought_from: float | None = None
        self.thought_for: float | None = None  # seconds from the first thought to the first answer word
        self._saved_len = 0
        self._saved_thinking = 0
        self._last_save = time.monotonic()
        self._ended = False

    def take(self, split: Split):
        """A piece of the stream, told apart into thought and answer: kept, then reported."""
        if split.retracted:
            self.text = self.text[:len(self.text) - len(split.retracted)]
            yield AnswerRetracted(self._id, split.retracted)
        if split.thinking:
            self.thinking += split.thinking
            self._thought_from = self._thought_from or time.monotonic()
            yield ThinkingDelta(self._id, split.thinking)
        if split.answer:
            if self._thought_from is not None and self.thought_for is None:
                self.thought_for = time.monotonic() - self._thought_from
            self.text += split.answer  # what the user is shown is what is kept
            yield AnswerDelta(self._id, split.answer)

    def save_now(self) -> None:
        if len(self.text) != self._saved_len:
            self._store.update_message(self._id, content=self.text)
            self._last_save, self._saved_len = time.monotonic(), len(self.text)
        self._save_thinking()

    def save_if_due(self) -> None:
        if time.monotonic() - self._last_save >= SAVE_EVERY_S:
            self.save_now()

    def _save_thinking(self, final: bool = False) -> None:
        if len(self.thinking) != self._saved_thinking or (final and self.thinking):
            seconds = self.thought_for if self.thought_for is not None else (
                time.monotonic() - self._thought_from if self._thought_from else None)
            tokens = self._meter.count(self.thinking) if final else None
            self._store.save_thinking(self._id, self.thinking, seconds, tokens)
            self._saved_thinking = len(self.thinking)

    def finish(self, event: StreamFinished, model: str) -> AnswerFinished:
        state = "interrupted" if event.finish_reason == "cancelled" else "complete"
        self._save_thinking(final=True)  # its time and tokens are final now
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
        self._save_thinking(final=True)
        self._store.update_message(self._id, content=self.text, state=state, error=message)
