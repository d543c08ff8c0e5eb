"""A search snippet made readable in one line: SQLite's snippet keeps the message's markdown and
line breaks, which in a narrow result list read as stray fences and broken lines."""
from __future__ import annotations

import re

from .records import SNIPPET_CLOSE, SNIPPET_OPEN

_MARKUP = re.compile(r"`{3,}|\*\*|`")
_SPACE = re.compile(r"\s+")
_MARK = re.compile(f"({re.escape(SNIPPET_OPEN)}.*?{re.escape(SNIPPET_CLOSE)})", re.DOTALL)


def snippet_runs(snippet: str) -> list[tuple[str, bool]]:
    """(text, matched) runs of a snippet: markdown fences, bold and code ticks dropped, every run
    of white space one space, the matched words flagged."""
    runs: list[tuple[str, bool]] = []
    for part in _MARK.split(snippet):
        matched = part.startswith(SNIPPET_OPEN) and part.endswith(SNIPPET_CLOSE)
        text = _SPACE.sub(" ", _MARKUP.sub("", part.strip(SNIPPET_OPEN + SNIPPET_CLOSE) if matched else part))
        if not text:
            continue
        if runs and runs[-1][1] == matched:
            runs[-1] = (runs[-1][0] + text, matched)
        else:
            runs.append((text, matched))
    if runs:
        runs[0] = (runs[0][0].lstrip(), runs[0][1])
        runs[-1] = (runs[-1][0].rstrip(), runs[-1][1])
    return [run for run in runs if run[0]]

