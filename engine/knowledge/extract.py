"""Text out of the documents people keep: plain text, Markdown, source code, PDF, Word (.docx).

One function, `extract_text`, used by the files tool and by knowledge collections. It never
executes anything from a document and never reaches the network. What it cannot read it
refuses with `ExtractionError(reason)`, a short phrase fit for "Cannot read 'x': <reason>."

Text files are decoded as UTF-8 (a byte-order mark chooses UTF-16/32); a file that is not
UTF-8 falls back to Windows-1252, then Latin-1, so an old note is read rather than refused.
A file with NUL bytes or many control characters is binary and refused. A PDF is read page
by page with "--- page N ---" markers; `pages` then holds each page's character span.
"""
from __future__ import annotations

import codecs
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.cancel import Cancel

KINDS = ("text", "markdown", "code", "pdf", "docx")

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mdx"})
CODE_SUFFIXES = frozenset({
    ".py", ".pyi", ".pyw", ".ipynb", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".c", ".h",
    ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".m", ".mm", ".rs", ".go", ".java", ".kt",
    ".kts", ".scala", ".swift", ".rb", ".php", ".pl", ".pm", ".lua", ".r", ".jl", ".cs", ".fs",
    ".vb", ".dart", ".hs", ".ml", ".mli", ".ex", ".exs", ".erl", ".clj", ".cljs", ".el", ".lisp",
    ".scm", ".zig", ".nim", ".v", ".sv", ".vhd", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat",
    ".cmd", ".sql", ".html", ".htm", ".css", ".scss", ".sass", ".less", ".vue", ".svelte",
    ".json", ".jsonc", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".xml", ".gradle",
    ".cmake", ".mk", ".proto", ".graphql", ".tf", ".nix", ".asm", ".s",
})
CODE_NAMES = frozenset({"makefile", "dockerfile", "containerfile", "cmakelists.txt", "justfile",
                        "rakefile", "gemfile", "vagrantfile", "procfile", "jenkinsfile"})

_SNIFF_BYTES = 8192
_CONTROL_BYTES = frozenset(range(0x20)) - {0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B}
_MAX_UNPACKED_DOCX = 256 * 1024 * 1024   # a Word file that unpacks to more than this is a zip bomb
_PDF_MAGIC = b"%PDF-"


class ExtractionError(Exception):
    """A document that cannot be read as text; `reason` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ExtractedText:
    text: str
    # PDF only: pages[i] is the (start, end) character span of page i + 1 in `text`, its
    # "--- page N ---" marker included. None for formats without pages.
    pages: list[tuple[int, int]] | None
    kind: str                      # one of KINDS
    page_count: int | None = None  # pages in the whole PDF (may exceed len(pages) when cut short)
    complete: bool = True          # False: extraction stopped early at `max_chars`


def kind_for(path: str | os.PathLike[str]) -> str:
    """The kind a file's name suggests (its content may still say binary, or PDF)."""
    name = Path(path).name.lower()
    suffix = Path(name).suffix
    if suffix == ".pdf":
        return "pdf"
    if suffix == ".docx":
        return "docx"
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in CODE_SUFFIXES or name in CODE_NAMES:
        return "code"
    return "text"


def extract_text(path: str | os.PathLike[str], *, data: bytes | None = None,
                 max_bytes: int | None = None, max_chars: int | None = None,
                 cancel: Cancel | None = None) -> ExtractedText:
    """The text of the document at `path` (or of `data`, its bytes, already read by a caller
    that opened the file itself; `path` then only names it).

    `max_bytes` refuses larger files before reading them. `max_chars` lets a PDF stop after
    the page where the text passes that length (`complete=False`); other kinds return all
    their text. Raises ExtractionError, or engine.cancel.Cancelled when `cancel` is set.
    """
    if data is None:
        data = _read(Path(path), max_bytes)
    elif max_bytes is not None and len(data) > max_bytes:
        raise ExtractionError(f"the file is {human_size(len(data))}; the limit is {human_size(max_bytes)}")
    kind = kind_for(path)
    if kind == "pdf" or data[:1024].lstrip().startswith(_PDF_MAGIC):
        return _pdf(data, max_chars, cancel)
    if kind == "docx":
        return _docx(data)
    return ExtractedText(decode_text(data), None, kind)


def is_binary(data: bytes) -> bool:
    """True for bytes that are not text: NUL bytes, or many control characters, near the start.
    Text with a UTF-16/32 byte-order mark is text."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    sample = data[:_SNIFF_BYTES]
    if b"\x00" in sample:
        return True
    if not sample:
        return False
    control = sum(1 for byte in sample if byte in _CONTROL_BYTES)
    return control / len(sample) > 0.10


def decode_text(data: bytes) -> str:
    """Bytes of a text file as str; raises ExtractionError for a binary file."""
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF8, "utf-8-sig"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if is_binary(data):
        raise ExtractionError("it is a binary file, not text (the files tool reads text, Markdown, "
                              "source code, PDF and Word .docx files)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a few damaged bytes stays UTF-8; otherwise it is an older 8-bit encoding.
    replaced = data.decode("utf-8", errors="replace")
    damaged = replaced.count("\ufffd")
    good_non_ascii = sum(1 for ch in replaced if ord(ch) > 127) - damaged
    if good_non_ascii > damaged:
        return replaced
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
    return f"{size} bytes"  # pragma: no cover


def _read(path: Path, max_bytes: int | None) -> bytes:
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if max_bytes is not None and size > max_bytes:
                raise ExtractionError(f"the file is {human_size(size)}; the limit is {human_size(max_bytes)}")
            data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    except OSError as exc:
        raise ExtractionError(exc.strerror or type(exc).__name__) from None
    if max_bytes is not None and len(data) > max_bytes:
        raise ExtractionError(f"the file is larger than the limit of {human_size(max_bytes)}")
    return data


def _pdf(data: bytes, max_chars: int | None, cancel: Cancel | None) -> ExtractedText:
    import logging

    from pypdf import PdfReader

    pypdf_log = logging.getLogger("pypdf")
    if pypdf_log.level == logging.NOTSET:   # damaged files warn on every page; keep errors only
        pypdf_log.setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                unlocked = reader.decrypt("")
            except Exception:  # noqa: BLE001 - an unsupported cipher is a locked file too
                unlocked = 0
            if not unlocked:
                raise ExtractionError("the PDF is password-protected")
        page_count = len(reader.pages)
    except ExtractionError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types for damaged files
        raise ExtractionError(f"it is not a readable PDF ({_short(exc)})") from None

    blocks: list[str] = []
    pages: list[tuple[int, int]] = []
    length = 0
    any_text = False
    complete = True
    for number in range(1, page_count + 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if max_chars is not None and length > max_chars:
            complete = False
            break
        try:
            page_text = (reader.pages[number - 1].extract_text() or "").strip()
        except Exception:  # noqa: BLE001 - one broken page should not lose the others
            page_text = ""
        any_text = any_text or bool(page_text)
        block = f"--- page {number} ---\n{page_text}" if page_text else f"--- page {number} ---"
        start = length + (2 if blocks else 0)   # blocks are joined by a blank line
        pages.append((start, start + len(block)))
        blocks.append(block)
        length = start + len(block)
    if not any_text and complete:
        raise ExtractionError(f"the PDF has no extractable text ({page_count} page"
                              f"{'' if page_count == 1 else 's'}; it may be scanned images, "
                              "and Hearth does not do OCR)")
    return ExtractedText("\n\n".join(blocks), pages, "pdf", page_count, complete)


def _docx(data: bytes) -> ExtractedText:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            has_body = "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ExtractionError("it is not a valid Word (.docx) document") from None
    if not has_body:
        raise ExtractionError("it is not a valid Word (.docx) document")
    if unpacked > _MAX_UNPACKED_DOCX:
        raise ExtractionError(f"the document unpacks to {human_size(unpacked)}, more than the "
                              f"limit of {human_size(_MAX_UNPACKED_DOCX)}")

    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                blocks.append(_docx_table(item))
            else:
                text = item.text.strip()
                if text:
                    blocks.append(_heading_prefix(item) + text)
    except ExtractionError:
        raise
    except Exception as exc:  # noqa: BLE001 - python-docx raises many types for damaged files
        raise ExtractionError(f"it is not a readable Word document ({_short(exc)})") from None
    return ExtractedText("\n\n".join(block for block in blocks if block), None, "docx")


def _heading_prefix(paragraph) -> str:
    try:
        style = (paragraph.style.name or "") if paragraph.style is not None else ""
    except Exception:  # noqa: BLE001 - a missing style is a plain paragraph
        return ""
    if style == "Title":
        return "# "
    if style.startswith("Heading "):
        level = style.removeprefix("Heading ").strip()
        if level.isdigit():
            return "#" * min(int(level), 6) + " "
    return ""


def _docx_table(table) -> str:
    lines = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats itself across the span
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
