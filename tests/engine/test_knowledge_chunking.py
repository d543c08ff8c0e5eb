"""Documents are cut where their authors cut them: at headings, pages and paragraphs, with
overlap inside a long section, and every chunk's span points at its exact text."""
from __future__ import annotations

from engine.knowledge.chunking import LIMIT_CHARS, OVERLAP_CHARS, chunk_document


def paragraph(word: str, count: int = 60) -> str:
    return " ".join(f"{word}{i}" for i in range(count)) + "."


def test_a_long_markdown_section_is_cut_between_paragraphs_with_overlap() -> None:
    text = "# Guide\n\nIntro.\n\n## Install\n\n" + "\n\n".join(paragraph(w) for w in "abcdef") + "\n\n## Use\n\n" + paragraph("u")
    chunks = chunk_document(text, "markdown")

    assert all(text[c.start:c.end] == c.text and len(c.text) <= LIMIT_CHARS + OVERLAP_CHARS for c in chunks)
    install = [c for c in chunks if c.location == "Guide > Install"]
    assert len(install) >= 2
    for before, after in zip(install, install[1:]):
        assert after.start < before.end               # the next chunk repeats the end of the last
        assert text[after.start - 1].isspace()        # and starts at a word
    assert chunks[-1].location == "Guide > Use" and chunks[-1].text.startswith("## Use")


def test_a_fenced_code_block_stays_whole_even_with_blank_lines_inside() -> None:
    code = "```python\ndef f():\n\n    return 1\n```"
    chunks = chunk_document("# Code\n\n" + paragraph("x", 150) + "\n\n" + code + "\n", "markdown")
    assert any(code in c.text for c in chunks)


def test_pdf_chunks_know_their_page_and_leave_the_markers_out() -> None:
    text = "--- page 1 ---\n" + paragraph("p", 80) + "\n\n--- page 2 ---\n" + paragraph("q", 80)
    chunks = chunk_document(text, "pdf", pages=[(0, 10), (11, 20)])
    assert [c.location for c in chunks] == ["page 1", "page 2"]
    assert all("--- page" not in c.text for c in chunks)


def test_source_code_chunks_say_their_lines() -> None:
    text = "\n\n".join(f"def f{i}():\n    return {i}" for i in range(80))
    chunks = chunk_document(text, "code")
    assert chunks[0].location.startswith("lines 1-") and len(chunks) > 1
    assert chunks[1].location == f"lines {text.count(chr(10), 0, chunks[1].start) + 1}-" \
                                 f"{text.count(chr(10), 0, chunks[1].end) + 1}"


def test_text_with_no_breaks_at_all_is_still_cut_within_the_limit() -> None:
    chunks = chunk_document("x" * 5000, "text")
    assert "".join(c.text for c in chunks) == "x" * 5000 and max(len(c.text) for c in chunks) <= LIMIT_CHARS
    assert chunk_document("", "text") == [] and chunk_document("   \n\n ", "markdown") == []
