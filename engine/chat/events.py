"""What happens while one answer is made, as plain frozen records (no Qt): the window turns
them into signals, `hearth ask` into stdout, a test into assertions."""
from __future__ import annotations

from dataclasses import dataclass

from engine.llm.client import StreamFinished
from engine.store.records import AnswerSource, ToolStep


@dataclass(frozen=True)
class AnswerPlanned:
    """The prompt is built: `dropped` earlier messages no longer fit the model's window."""
    message_id: int
    dropped: int
    prompt_tokens: int   # the count the plan was made with (exact with Hearth's host)
    n_ctx: int
    fits: bool           # False when even the newest message alone is too long
    first_kept_id: int | None = None   # the oldest message the model still sees


@dataclass(frozen=True)
class AnswerDelta:
    message_id: int
    text: str


@dataclass(frozen=True)
class AnswerFinished:
    """The answer is complete, or was stopped (`interrupted`); either way it is saved."""
    message_id: int
    state: str            # 'complete' | 'interrupted'
    stats: StreamFinished
    model: str


@dataclass(frozen=True)
class AnswerFailed:
    """The answer could not be finished; what it had written is kept with `state`."""
    message_id: int
    message: str          # fit to show the user
    state: str            # 'error' (nothing written) | 'interrupted'


@dataclass(frozen=True)
class ToolStepChanged:
    """A tool call was asked for, is waiting for the user, runs, or has its result (saved first)."""
    message_id: int
    step: ToolStep


@dataclass(frozen=True)
class ThinkingDelta:
    """More of the model's reasoning: shown apart from the answer, saved apart, never sent back."""
    message_id: int
    text: str


@dataclass(frozen=True)
class AnswerRetracted:
    """The last `text` of the answer shown so far was thinking after all (the template had opened
    `<think>` itself, and only `</think>` told): it moves from the answer to the thought."""
    message_id: int
    text: str


@dataclass(frozen=True)
class SourcesRetrieved:
    """Passages of the user's documents were found for the question and saved with the answer
    (before the prompt is planned): the model sees them numbered, to cite as [1], [2]…"""
    message_id: int
    sources: tuple[AnswerSource, ...]
    notes: tuple[str, ...] = ()   # collections that could not be searched, and why: fit to show the user


AnswerEvent = (AnswerPlanned | AnswerDelta | ThinkingDelta | AnswerRetracted | ToolStepChanged | SourcesRetrieved
               | AnswerFinished | AnswerFailed)
