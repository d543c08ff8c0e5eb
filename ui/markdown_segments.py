"""Splits markdown into prose and fenced code so each code block gets its own widget
(highlighting and a Copy button), and a streaming answer only re-renders its last segment."""
from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")


@dataclass(frozen=True)
class Segment:
    kind: str          # 'text' or 'code'
    text: str
    language: str = ""
    closed: bool = True  # False for a code block still streaming


def split_markdown(source: str) -> list[Segment]:
    segments: list[Segment] = []
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
        if prose and "".join(prose).strip():
            segments.append(Segment("text", "\n".join(prose)))
        prose = []
        segments.append(Segment("code", "\n".join(body), language, closed))
    if prose and "".join(prose).strip():
        segments.append(Segment("text", "\n".join(prose)))
    return segments
