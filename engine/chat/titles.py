"""A chat's title from its first question, the same wherever the question was asked."""
from __future__ import annotations

UNTITLED = "New chat"


def title_from(text: str, limit: int = 48) -> str:
    """One line, cut at a word, marked when cut."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    cut = words[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut).rstrip(" ,.;:-") + "…"


def is_untitled(title: str) -> bool:
    return title in (UNTITLED, "")
