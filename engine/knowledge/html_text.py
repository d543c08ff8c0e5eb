"""The readable text of an HTML page as Markdown-like text, so it chunks by its headings.

Stdlib `html.parser` only: nothing runs, nothing is fetched. Scripts, styles and other
non-content elements are dropped; h1-h6 become `#` headings, <pre> a fenced code block, list
items `- ` lines, and block elements paragraph breaks.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "head"})
_BLOCKS = frozenset({"p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "table",
                     "tr", "ul", "ol", "dl", "dt", "dd", "blockquote", "figure", "figcaption", "form",
                     "br", "hr", "body", "html", "address", "details", "summary"})
_HEADINGS = {f"h{level}": level for level in range(1, 7)}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._current: list[str] = []
        self._skipping = 0
        self._pre = 0
        self._prefix = ""
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _HEADINGS:
            self._flush()
            self._prefix = "#" * _HEADINGS[tag] + " "
        elif tag == "pre":
            self._flush()
            self._pre += 1
        elif tag == "li":
            self._flush()
            self._prefix = "- "
        elif tag in ("td", "th"):
            self._current.append(" | ")
        elif tag in _BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "pre":
            code = "".join(self._current).strip("\n")
            self._current = []
            if code.strip():
                self.blocks.append(f"```\n{code}\n```")
            self._pre = max(0, self._pre - 1)
        elif tag in _HEADINGS or tag == "li" or tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._skipping:
            return
        self._current.append(data)

    def _flush(self) -> None:
        if self._pre:
            return
        text = re.sub(r"\s+", " ", "".join(self._current)).strip(" |")
        self._current = []
        if text:
            self.blocks.append(self._prefix + text)
        self._prefix = ""


def html_to_text(html: str) -> str:
    """The page's text: title first (as a heading) if the body does not open with it."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    parser._flush()
    title = " ".join(parser.title.split())
    blocks = parser.blocks
    if title and not (blocks and blocks[0].lstrip("# ") == title):
        blocks = [f"# {title}", *blocks]
    return "\n\n".join(blocks)
