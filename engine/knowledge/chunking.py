"""Documents cut into passages that follow their structure: headings, pages, paragraphs, code.

A chunk is a few hundred tokens (TARGET_CHARS, about 180 MiniLM tokens of English prose; never
over LIMIT_CHARS) so it embeds whole within the model's 256 tokens and reads as a passage in a
prompt. A chunk never starts mid-section without OVERLAP_CHARS of the text before it, so a fact
cut by a boundary is whole in one of the two; a new heading or PDF page starts a fresh chunk
(a short section joins the next rather than standing alone). Each chunk's text is exactly
`document[start:end]`, so spans point into the extracted text and stitching spans rebuilds it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

TARGET_CHARS = 800
LIMIT_CHARS = 1100
OVERLAP_CHARS = 160
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PAGE_MARK = re.compile(r"^--- page (\d+) ---$")
_SENTENCE_END = re.compile(r"[.!?;:]\s+|\n")


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str       # the heading path at the chunk's start ('Setup > Linux'), or ''
    location: str      # heading path, 'page N', 'pages N-M' or 'lines A-B'
    start: int
    end: int


@dataclass
class _Block:
    start: int
    end: int
    section: int       # a new heading or page starts a new section
    heading: str
    page: int | None


def chunk_document(text: str, kind: str, pages: list[tuple[int, int]] | None = None) -> list[Chunk]:
    """`text` as extracted (`kind` from engine.knowledge.extract: markdown, docx, html… ) in chunks."""
    blocks = _split_long(text, _blocks(text, kind, pages))
    chunks = []
    for start, end, first, last in _pack(text, blocks):
        chunks.append(Chunk(text[start:end], first.heading, _location(text, kind, first, last, start, end), start, end))
    return chunks


def _blocks(text: str, kind: str, pages: list[tuple[int, int]] | None) -> list[_Block]:
    """Paragraphs (runs of non-blank lines), fenced code whole, heading lines opening sections."""
    structured = kind in ("markdown", "docx", "html", "text")
    blocks: list[_Block] = []
    headings: list[tuple[int, str]] = []
    section, page = 0, None
    para_start = para_end = None
    fenced = False
    page_ends = [end for _, end in pages] if pages else []

    def close() -> None:
        nonlocal para_start, para_end
        if para_start is not None:
            blocks.append(_Block(para_start, para_end, section, " > ".join(t for _, t in headings), page))
        para_start = para_end = None

    offset = 0
    for line in text.splitlines(keepends=True):
        line_start, offset = offset, offset + len(line)
        body = line.rstrip("\r\n")
        content_end = line_start + len(body.rstrip())
        if pages:
            mark = _PAGE_MARK.match(body)
            if mark:
                close()
                section, page = section + 1, int(mark.group(1))
                continue
        if structured and _FENCE.match(body):
            if not fenced:
                close()
            fenced = not fenced
            para_start = line_start if para_start is None else para_start
            para_end = content_end
            if not fenced:
                close()
            continue
        if fenced:
            para_end = content_end if body.strip() else para_end
            continue
        heading = _HEADING.match(body) if structured else None
        if heading:
            close()
            level = len(heading.group(1))
            headings = [(lvl, title) for lvl, title in headings if lvl < level] + [(level, heading.group(2))]
            section += 1
            blocks.append(_Block(line_start, content_end, section, " > ".join(t for _, t in headings), page))
            continue
        if not body.strip():
            close()
            continue
        if para_start is None:
            para_start = line_start + (len(body) - len(body.lstrip()) if kind != "code" else 0)
        para_end = content_end
    close()
    if page_ends and any(b.page is None for b in blocks):   # text before the first marker
        blocks = [b if b.page is not None else _Block(b.start, b.end, b.section, b.heading, 1) for b in blocks]
    return [b for b in blocks if b.end > b.start]


def _split_long(text: str, blocks: list[_Block]) -> list[_Block]:
    """Blocks over LIMIT_CHARS cut at line ends, then sentence ends, then spaces."""
    out: list[_Block] = []
    for block in blocks:
        start = block.start
        while block.end - start > LIMIT_CHARS:
            cut = _cut_point(text, start, start + TARGET_CHARS, start + LIMIT_CHARS)
            out.append(_Block(start, _rstrip(text, start, cut), block.section, block.heading, block.page))
            start = _lstrip(text, cut, block.end)
        if block.end > start:
            out.append(_Block(start, block.end, block.section, block.heading, block.page))
    return out


def _cut_point(text: str, start: int, soft: int, hard: int) -> int:
    """Where to end a piece: the last line end, else sentence end, else space, looked for
    first in the second half of [start, soft], then up to `hard`; `hard` itself at worst."""
    low = start + (soft - start) // 2
    for window_start, window_end in ((low, soft), (soft, hard)):
        window = text[window_start:window_end]
        at = window.rfind("\n")
        if at < 0:
            ends = [m.end() for m in _SENTENCE_END.finditer(window)]
            at = ends[-1] - 1 if ends else window.rfind(" ")
        if at >= 0:
            return window_start + at + 1
    return hard


def _pack(text: str, blocks: list[_Block]):
    """(start, end, first block, last block) of each chunk: whole blocks up to TARGET_CHARS; a
    new section starts a chunk unless the current one is short; same-section chunks overlap."""
    first = 0          # index of the chunk's first block
    chunk_start = None
    for index, block in enumerate(blocks):
        if chunk_start is not None:
            last = blocks[index - 1]
            new_section = block.section != last.section
            length, grown = last.end - chunk_start, block.end - chunk_start
            substantial = length >= TARGET_CHARS // 3
            if (substantial and (new_section or grown > TARGET_CHARS)) or grown > LIMIT_CHARS:
                yield chunk_start, last.end, blocks[first], last
                if new_section or length <= 2 * OVERLAP_CHARS:
                    chunk_start = None
                else:
                    first, chunk_start = _overlap_start(text, blocks, first, index)
        if chunk_start is None:
            first, chunk_start = index, block.start
    if chunk_start is not None:
        yield chunk_start, blocks[-1].end, blocks[first], blocks[-1]


def _overlap_start(text: str, blocks: list[_Block], first: int, index: int) -> tuple[int, int]:
    """(first block, start) of a chunk that carries up to OVERLAP_CHARS of the text before
    blocks[index], starting at a word inside one of the previous chunk's blocks."""
    position = max(blocks[index - 1].end - OVERLAP_CHARS, blocks[index].end - LIMIT_CHARS, blocks[first].start + 1)
    for earlier in range(first, index):
        b = blocks[earlier]
        if b.end <= position:
            continue
        if b.start >= position:
            return earlier, b.start
        at = position
        while at < b.end and not text[at - 1].isspace():
            at += 1
        return (earlier, at) if at < b.end else (earlier + 1, blocks[earlier + 1].start)
    return index, blocks[index].start


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _lstrip(text: str, start: int, end: int) -> int:
    while start < end and text[start].isspace():
        start += 1
    return start


def _location(text: str, kind: str, first: _Block, last: _Block, start: int, end: int) -> str:
    if first.page is not None:
        return f"page {first.page}" if first.page == last.page else f"pages {first.page}-{last.page}"
    if kind == "code":
        line = text.count("\n", 0, start) + 1
        return f"lines {line}-{line + text.count(chr(10), start, end)}"
    return first.heading
