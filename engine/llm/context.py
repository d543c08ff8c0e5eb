"""The visible context policy: when a conversation outgrows the model's window, the oldest turns
leave the prompt (the system prompt and the newest message always stay). Nothing is deleted
from the conversation itself; the UI shows how many earlier messages the model no longer sees.

The cut moves in steps, not one turn at a time: when the kept turns overflow, older turns go
until the prompt fills only `refill` of the budget. Until it overflows again the prompt keeps
the same beginning, so the engine's KV cache is reused instead of re-reading the whole window
on every turn.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Chat templates add a few tokens of framing per message.
PER_MESSAGE_OVERHEAD = 8


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate (about 3 characters a token) for servers without a tokenizer."""
    return len(text) // 3 + 1


@dataclass(frozen=True)
class PromptPlan:
    messages: list[dict]
    dropped: int          # conversation messages left out of the prompt (= index of the first kept)
    prompt_tokens: int    # the estimate the plan was made with
    fits: bool            # False when even the newest message alone is too long


def plan_prompt(system_prompt: str, history: Sequence[dict], *, n_ctx: int, max_tokens: int,
                count: Callable[[str], int] = estimate_tokens, keep_from: int = 0,
                refill: float = 0.75) -> PromptPlan:
    """history is chronological; keep_from is the previous plan's `dropped` (0 at first)."""
    budget = max(n_ctx - max_tokens, 0)
    head: list[dict] = []
    base = 0
    if system_prompt.strip():
        head = [{"role": "system", "content": system_prompt}]
        base = count(system_prompt) + PER_MESSAGE_OVERHEAD
    keep_from = min(max(keep_from, 0), max(len(history) - 1, 0))
    used, kept = _newest_within(history, count, base, budget, stop_at=keep_from)
    if len(kept) < len(history) - keep_from:
        # The kept turns no longer fit: move the cut so they fill only `refill` of the budget.
        used, kept = _newest_within(history, count, base, int(budget * refill), stop_at=0)
    fits = used <= budget
    # A prompt that starts with an assistant turn confuses many templates: start at a user turn.
    while len(kept) > 1 and kept[0].get("role") == "assistant":
        used -= _message_tokens(kept[0], count) + PER_MESSAGE_OVERHEAD
        kept.pop(0)
    return PromptPlan(head + kept, len(history) - len(kept), used, fits)


def _newest_within(history: Sequence[dict], count: Callable[[str], int], used: int, limit: int,
                   stop_at: int) -> tuple[int, list[dict]]:
    """The newest messages (at least one, none older than stop_at) whose cost stays within limit."""
    kept: list[dict] = []
    for message in reversed(history[stop_at:]):
        cost = _message_tokens(message, count) + PER_MESSAGE_OVERHEAD
        if used + cost > limit and kept:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    return used, kept


IMAGE_TOKENS = 600  # an image: a few hundred tokens in most projectors


def message_texts(message: dict) -> list[str]:
    """The texts of a message whose tokens are counted (a string, or the text parts of a list)."""
    content = message.get("content") or ""
    calls = [call["function"].get("arguments", "") for call in message.get("tool_calls") or ()]
    if isinstance(content, str):
        return [content, *calls]
    return [part.get("text", "") for part in content if part.get("type") == "text"] + calls


def _message_tokens(message: dict, count: Callable[[str], int]) -> int:
    content = message.get("content") or ""
    images = 0 if isinstance(content, str) else sum(1 for part in content if part.get("type") != "text")
    return sum(count(text) for text in message_texts(message)) + images * IMAGE_TOKENS
