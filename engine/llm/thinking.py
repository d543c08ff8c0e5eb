"""Reasoning written into an answer's content, told apart from the answer itself.

Reasoning models put their chain of thought in `<think>…</think>` (DeepSeek-R1 distills, Qwen3,
Phi-4-reasoning). When the chat template has already opened the tag, only `</think>` appears:
everything before it was thinking, though it streamed as if it were the answer. Remote servers
that parse it themselves send it in a separate `reasoning_content` / `reasoning` field instead
(handled by the client). `ThinkSplitter` is fed the content as it streams and says, for each
piece, what is thought and what is answer.
"""
from __future__ import annotations

from dataclasses import dataclass

OPEN, CLOSE = "<think>", "</think>"
# gpt-oss (harmony) writes its thought on an "analysis" channel and its answer on "final".
CHANNEL_MARKERS = (
    ("<|channel|>analysis<|message|>", OPEN),
    ("<|end|><|start|>assistant<|channel|>final<|message|>", CLOSE),
    ("<|start|>assistant<|channel|>final<|message|>", CLOSE),
    ("<|channel|>final<|message|>", CLOSE),
)


class MarkerTranslator:
    """Other families' thought markers, rewritten as <think> tags as they stream (a marker may
    arrive split across chunks, so a tail that could begin one is held back)."""

    def __init__(self, markers: tuple[tuple[str, str], ...] = CHANNEL_MARKERS) -> None:
        self._markers = markers
        self._pending = ""

    def feed(self, text: str) -> str:
        text = self._pending + text
        for marker, tag in self._markers:
            text = text.replace(marker, tag)
        keep = min((_tail_that_may_start(text, marker) for marker, _ in self._markers), default=len(text))
        out, self._pending = text[:keep], text[keep:]
        return out

    def finish(self) -> str:
        rest, self._pending = self._pending, ""
        return rest


@dataclass(frozen=True)
class Split:
    thinking: str = ""
    answer: str = ""
    retracted: str = ""   # text already given out as answer that turned out to be thinking


class ThinkSplitter:
    def __init__(self, *, answering: bool = False, thinking: bool = False) -> None:
        """`answering`: the thought is already over (the model continues after `</think>`);
        `thinking`: the template opened the thought, so the output begins inside it."""
        self._state = "answer" if answering else "thinking" if thinking else "start"  # start → thinking → answer; or start → answer (maybe retracted later)
        self._pending = ""         # may be the start of a tag, split across chunks
        self._answered = ""        # answer text given out before any tag was seen
        self._strip_lead = False
        self._translator = MarkerTranslator()

    def feed(self, text: str) -> Split:
        text = self._translator.feed(text)
        if not text:
            return Split()
        return self._feed(text)

    def _feed(self, text: str) -> Split:
        text = self._pending + text
        self._pending = ""
        if self._state == "start":
            stripped = text.lstrip()
            if stripped.startswith(OPEN):
                self._state = "thinking"
                return self._thinking(stripped[len(OPEN):])
            if OPEN.startswith(stripped) and stripped:
                self._pending = text  # "<thi" so far
                return Split()
            self._state = "unsure"
        if self._state == "thinking":
            return self._thinking(text)
        if self._state == "unsure":
            at = text.find(CLOSE)
            if at >= 0:  # the template opened the thought: all so far was thinking
                self._state = "answer"
                retracted, self._answered = self._answered, ""
                self._strip_lead = True
                return Split(thinking=retracted + text[:at], answer=self._after_thought(text[at + len(CLOSE):]),
                             retracted=retracted)
            keep = _tail_that_may_start(text, CLOSE)
            out, self._pending = text[:keep], text[keep:]
            self._answered += out
            return Split(answer=out)
        return Split(answer=self._after_thought(text))

    def _after_thought(self, text: str) -> str:
        """The blank line(s) a template puts after `</think>` are not the answer's."""
        if self._strip_lead:
            text = text.lstrip("\n")
            self._strip_lead = not text
        return text

    def finish(self) -> Split:
        held = self._translator.finish()
        first = self._feed(held) if held else Split()
        rest, self._pending = self._pending, ""
        last = self._finish_rest(rest)
        return Split(thinking=first.thinking + last.thinking, answer=first.answer + last.answer,
                     retracted=first.retracted)

    def _finish_rest(self, rest: str) -> Split:
        if self._state == "thinking":
            return Split(thinking=rest)
        return Split(answer=self._after_thought(rest))

    def _thinking(self, text: str) -> Split:
        at = text.find(CLOSE)
        if at >= 0:
            self._state = "answer"
            self._strip_lead = True
            return Split(thinking=text[:at], answer=self._after_thought(text[at + len(CLOSE):]))
        keep = _tail_that_may_start(text, CLOSE)
        out, self._pending = text[:keep], text[keep:]
        return Split(thinking=out)


def _tail_that_may_start(text: str, tag: str) -> int:
    for start in range(max(0, len(text) - len(tag) + 1), len(text)):
        if tag.startswith(text[start:]):
            return start
    return len(text)
