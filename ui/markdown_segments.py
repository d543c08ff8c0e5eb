"""Splits markdown into prose and fenced code so each code block gets its own widget
(highlighting and a Copy button). While an answer streams, prose is split further into
paragraphs so only the last one is re-rendered: the cost of a token stays flat however long the
answer grows. A finished message keeps its prose whole: fewer widgets to build when a long
conversation opens, and a selection can span paragraphs."""
from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S", re.MULTILINE)


@dataclass(frozen=True)
class Segment:
    kind: str          # 'text' or 'code'
    text: str
    language: str = ""
    closed: bool = True  # False for a code block still streaming


def split_markdown(source: str, *, by_paragraph: bool = True) -> list[Segment]:
    segments: list[Segment] = []
    # Reference-style links need their definitions in the same document: keep such prose whole.
    by_paragraph = by_paragraph and not _REFERENCE.search(source)

    def flush_prose(lines: list[str]) -> None:
        text = "\n".join(lines)
        if not text.strip():
            return
        if not by_paragraph:
            segments.append(Segment("text", text))
            return
        for paragraph in re.split(r"\n[ \t]*\n", text):
            if paragraph.strip():
                segments.append(Segment("text", paragraph))

    prose: list[str] = []
    lines = source.split("\n")
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            prose.append(lines[i])
            i += 1
            continue
        fence = match.group(2)
        language = match.group(3).strip().lower()
        body: list[str] = []
        i += 1
        closed = False
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                closed = True
                i += 1
                break
            body.append(lines[i])
            i += 1
        flush_prose(prose)
        prose = []
        segments.append(Segment("code", "\n".join(body), language, closed))
    flush_prose(prose)
    return segments
