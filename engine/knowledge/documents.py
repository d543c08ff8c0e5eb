"""Which files a collection holds, and each one's text: extract.py's kinds plus HTML as text.

A folder contributes the documents under it (by suffix; hidden folders and dependency or
cache folders skipped, symlinked folders not followed); a file the user named is always
tried, whatever its suffix, and recorded with a reason if it cannot be read.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .extract import CODE_NAMES, CODE_SUFFIXES, MARKDOWN_SUFFIXES, ExtractedText, decode_text, extract_text
from .html_text import html_to_text

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
TEXT_SUFFIXES = frozenset({".txt", ".text", ".rst", ".org", ".adoc", ".asciidoc", ".tex", ".csv", ".tsv", ".log"})
DOCUMENT_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | CODE_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx"}
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "env", "build", "dist",
                             "target", "bower_components"})


def find_files(roots: Iterable[str]) -> list[str]:
    """Absolute paths of the documents under `roots` (files or folders), sorted, each once."""
    found: set[str] = set()
    for root in roots:
        path = Path(root)
        if path.is_file():
            found.add(str(path))
        elif path.is_dir():
            for folder, subfolders, files in os.walk(path):
                subfolders[:] = [d for d in subfolders if not d.startswith(".") and d not in SKIPPED_FOLDERS]
                found.update(os.path.join(folder, name) for name in files if is_document(name))
    return sorted(found)


def is_document(name: str) -> bool:
    lower = name.lower()
    return not lower.startswith(".") and (Path(lower).suffix in DOCUMENT_SUFFIXES or lower in CODE_NAMES)


def read_document(path: str, data: bytes) -> ExtractedText:
    """The text of a file whose bytes are `data`; raises extract.ExtractionError."""
    if Path(path).suffix.lower() in HTML_SUFFIXES:
        return ExtractedText(html_to_text(decode_text(data)), None, "html")
    return extract_text(path, data=data)
