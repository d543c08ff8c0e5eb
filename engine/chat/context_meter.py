"""What the next request will hold, before it is sent: the context meter's reading.

The window shows it by the composer while the user types: the system prompt, the history that
still fits, images, the draft, and the room kept for the answer, out of the model's window, and
how many old turns the next message would push out of the prompt. Counted with the engine's own
tokenizer (Hearth's host) through the same planner that builds the real prompt, so the numbers
are the ones the answer will use; a server without a token count gets an estimate, said to be one.
"""
from __future__ import annotations

from engine.llm.context import IMAGE_TOKENS, PER_MESSAGE_OVERHEAD


def draft_message(text: str, images: int) -> dict:
    """The draft as the planner will see it; images cost what the planner assumes of them."""
    if not images:
        return {"role": "user", "content": text}
    return {"role": "user", "content": [{"type": "text", "text": text}] +
            [{"type": "image_url", "image_url": {"url": ""}}] * images}


def image_tokens(messages: list[dict]) -> int:
    return IMAGE_TOKENS * sum(
        sum(1 for part in m["content"] if part.get("type") != "text")
        for m in messages if isinstance(m.get("content"), list))


def draft_tokens(count, text: str) -> int:  # noqa: ANN001 - the planner's count function
    return (count(text) if text else 0) + PER_MESSAGE_OVERHEAD
