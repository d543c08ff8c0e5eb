"""How long a reasoning model may think: Off, Short, Long or Unlimited, in tokens of thought.

A model that thinks past its budget has its thought closed for it: the engine stops the stream,
then asks the model to go on from its own words with `</think>` written after them, so it
answers from what it has (the message is continued, not restarted: Hearth's host, llama.cpp's
server, vLLM and Ollama all continue a final assistant message). Off asks the model not to think
where that can be asked: an empty thought written for it (what Qwen3's template itself does for
`enable_thinking=False`), or `chat_template_kwargs` for a remote server; where the model thinks
anyway, the smallest budget closes the thought.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

THINK_KEY = "chat/think"   # a chat's own level, in its settings; also the default's setting key


class ThinkLevel(str, Enum):
    OFF = "off"
    SHORT = "short"
    LONG = "long"
    UNLIMITED = "unlimited"

    @classmethod
    def parse(cls, value: object, default: "ThinkLevel | None" = None) -> "ThinkLevel":
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            if default is None:
                raise ValueError(f"unknown think level {value!r}: use off, short, long or unlimited") from None
            return default


BUDGETS = {ThinkLevel.SHORT: 512, ThinkLevel.LONG: 4096}   # tokens of thought
UNLIMITED_ROOM = 8192   # room kept for an unlimited thought beside the answer's, at most


@dataclass(frozen=True)
class ThinkPlan:
    level: ThinkLevel
    budget: int | None          # tokens of thought before it is closed; None: no limit
    ask_not_to_think: bool      # Off: ask the model (or its template) to skip the thought

    def room(self, n_ctx: int) -> int:
        """Tokens to keep for the thought besides the answer's own, when the model is known to think."""
        if self.ask_not_to_think:
            return 0
        return self.budget if self.budget is not None else min(UNLIMITED_ROOM, n_ctx // 4)


def think_plan(level: ThinkLevel) -> ThinkPlan:
    if level is ThinkLevel.OFF:
        return ThinkPlan(level, BUDGETS[ThinkLevel.SHORT], True)
    return ThinkPlan(level, BUDGETS.get(level), False)


def closed_thought(thinking: str) -> dict:
    """The model's own turn so far, its thought closed: what it continues from to answer."""
    return {"role": "assistant", "content": f"<think>\n{thinking.strip()}\n</think>\n\n"}


NO_THOUGHT = {"role": "assistant", "content": "<think>\n\n</think>\n\n"}


class ThoughtMeter:
    """Counts a thought's tokens as it streams and says when the budget is spent.

    Servers that stream a token per delta are counted by deltas; Hearth's host folds tokens into
    chunks, so near the budget its thought is counted with the model's own tokenizer (`exact`),
    at most once per few dozen new characters."""

    RECOUNT_CHARS = 48

    def __init__(self, budget: int | None, exact: Callable[[str], int | None] | None = None) -> None:
        self.budget = budget
        self._exact = exact
        self.tokens = 0
        self._deltas = 0
        self._counted_at = 0

    def add(self, thought: str) -> bool:
        """One more piece of thought came; `thought` is all of it so far. True once the budget is spent."""
        self._deltas += 1
        if self._exact is None:
            self.tokens = self._rough(thought)
        elif self.budget is not None and len(thought) // 3 >= self.budget * 0.8 \
                and len(thought) - self._counted_at >= self.RECOUNT_CHARS:
            self.tokens = self.count(thought)
        return self.budget is not None and self.tokens >= self.budget

    def count(self, thought: str) -> int:
        """The whole thought's tokens as the model's tokenizer counts them (an estimate without one)."""
        self._counted_at = len(thought)
        exact = self._exact(thought) if self._exact and thought else None
        return exact if exact is not None else self._rough(thought)

    def count_of(self, text: str) -> int:
        """A part of the thought (one round's), counted on its own."""
        exact = self._exact(text) if self._exact and text else None
        return exact if exact is not None else len(text) // 4 + (1 if text else 0)

    def _rough(self, thought: str) -> int:
        """Token-sized deltas are tokens; larger ones are counted at ~4 characters a token."""
        if self._deltas and len(thought) / self._deltas <= 8:
            return self._deltas
        return len(thought) // 4 + 1
