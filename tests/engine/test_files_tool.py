"""A user shares a folder; the model lists and reads what is in it, and nothing outside it."""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cancel import Cancel
from engine.knowledge.extract import ExtractionError, extract_text
from engine.tools.base import ToolResult
from engine.tools.files import FilesTool, _open_inside, _Refusal

SECRET = "TOP-SECRET-8f3a1c"


def run(tool: FilesTool, path, action="read") -> ToolResult:
    return tool.run({"path": path, "action": action}, Cancel())


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF: one Helvetica text line per page (an empty string: a page with no text)."""
    count = len(pages)
    font_id = 3
    page_ids = [4 + 2 * i for i in range(count)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % p for p in page_ids) + b"] /Count %d >>" % count,
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for page_id, text in zip(page_ids, pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1") if text else b""
        objects[page_id] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font_id, page_id + 1))
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    """A shared folder 'Notes' next to things that are not shared."""
    notes = tmp_path / "Notes"
    (notes / "projects").mkdir(parents=True)
    (notes / "todo.txt").write_text("buy milk\ncall Ana\n", encoding="utf-8")
    (notes / "ideas.md").write_text("# Ideas\n\n- a *garden* planner\n", encoding="utf-8")
    (notes / "projects" / "plan.md").write_text("Step one: sketch.\n", encoding="utf-8")
    (notes / "projects" / "tool.py").write_text("def greet(name):\n    return f'hi {name}'\n", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "diary.txt").write_text(SECRET, encoding="utf-8")
    return {"notes": notes, "secret": secret, "outside": outside, "tmp": tmp_path}


@pytest.fixture
def tool(world) -> FilesTool:
    return FilesTool([world["notes"]])


def assert_refused(result: ToolResult, given: str) -> None:
    assert isinstance(result, ToolResult)
    assert not result.ok, result.text
    assert given.replace("\x00", "\\0")[:50] in result.text, "the refusal names the path as given"
    assert SECRET not in result.text
    assert "root:" not in result.text


# -- listing and reading what was shared ----------------------------------------------------

def test_top_level_lists_the_shared_folders_by_name(tool):
    for path in ("", ".", "./"):
        result = run(tool, path, "list")
        assert result.ok
        assert "- Notes/" in result.text
        assert str(tool.folders[0].real) not in result.text, "absolute paths stay private"


def test_a_folder_lists_its_entries_sorted_folders_first(tool):
    result = run(tool, "Notes", "list")
    assert result.ok, result.text
    lines = [line for line in result.text.splitlines() if line.startswith("- ")]
    assert [line.split(" ")[1] for line in lines] == ["projects/", "ideas.md", "todo.txt"]
    assert "file, 18 bytes, modified " in result.text
    assert "folder, modified" in result.text


def test_single_shared_folder_also_takes_paths_relative_to_it(tool):
    by_name = run(tool, "Notes/projects/plan.md")
    relative = run(tool, "projects/plan.md")
    windows = run(tool, "Notes\\projects\\plan.md")
    assert by_name.ok and relative.ok and windows.ok
    assert by_name.text == relative.text == windows.text
    assert "Step one: sketch." in by_name.text
    assert "File 'Notes/projects/plan.md' (Markdown" in by_name.text


def test_reads_text_markdown_and_code(tool):
    text = run(tool, "Notes/todo.txt")
    assert text.ok and "call Ana" in text.text and "(text, 18 bytes)" in text.text
    markdown = run(tool, "Notes/ideas.md")
    assert markdown.ok and "- a *garden* planner" in markdown.text and "Markdown" in markdown.text
    code = run(tool, "Notes/projects/tool.py")
    assert code.ok and "return f'hi {name}'" in code.text and "source code" in code.text


def test_old_encodings_and_utf16_are_read(world, tool):
    (world["notes"] / "latin.txt").write_bytes("café crème, naïve".encode("cp1252"))
    (world["notes"] / "wide.txt").write_bytes("Grüße aus Köln".encode("utf-16"))
    assert "café crème, naïve" in run(tool, "Notes/latin.txt").text
    assert "Grüße aus Köln" in run(tool, "Notes/wide.txt").text


def test_reads_a_pdf_page_by_page(world, tool):
    (world["notes"] / "report.pdf").write_bytes(make_pdf(["Hello", "Second page here"]))
    result = run(tool, "Notes/report.pdf")
    assert result.ok, result.text
    assert "--- page 1 ---\nHello" in result.text
    assert "--- page 2 ---\nSecond page here" in result.text
    assert "PDF" in result.text and "2 pages" in result.text

    extracted = extract_text(world["notes"] / "report.pdf")
    assert extracted.kind == "pdf" and extracted.page_count == 2
    first, second = extracted.pages
    assert extracted.text[first[0]:first[1]] == "--- page 1 ---\nHello"
    assert extracted.text[second[0]:second[1]] == "--- page 2 ---\nSecond page here"


def test_a_pdf_without_text_says_so(world, tool):
    (world["notes"] / "scan.pdf").write_bytes(make_pdf(["", ""]))
    result = run(tool, "Notes/scan.pdf")
    assert not result.ok
    assert "no extractable text" in result.text and "Notes/scan.pdf" in result.text


def test_a_damaged_pdf_is_refused_by_name(world, tool):
    (world["notes"] / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    result = run(tool, "Notes/broken.pdf")
    assert not result.ok and "broken.pdf" in result.text


def test_a_long_pdf_stops_extracting_early(world):
    (world["notes"] / "book.pdf").write_bytes(make_pdf([f"Line of page {n} " * 5 for n in range(1, 41)]))
    result = run(FilesTool([world["notes"]], max_read_chars=300), "Notes/book.pdf")
    assert result.ok and result.truncated
    assert "--- page 1 ---" in result.text and "--- page 40 ---" not in result.text
    assert "of 40." in result.text and "[Truncated" in result.text


def test_reads_a_word_document_with_its_tables(world, tool):
    import docx

    document = docx.Document()
    document.add_heading("Trip plan", level=1)
    document.add_paragraph("Pack light and leave early.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Day", "Place"
    table.cell(1, 0).text, table.cell(1, 1).text = "Monday", "Lisbon"
    document.add_paragraph("Back on Friday.")
    document.save(world["notes"] / "trip.docx")

    result = run(tool, "Notes/trip.docx")
    assert result.ok, result.text
    assert "# Trip plan" in result.text
    assert "Pack light and leave early." in result.text
    assert "| Day | Place |" in result.text and "| Monday | Lisbon |" in result.text
    body = result.text
    assert body.index("Pack light") < body.index("| Monday") < body.index("Back on Friday"), "document order"


def test_a_file_that_is_not_really_a_docx_is_refused(world, tool):
    (world["notes"] / "fake.docx").write_text("just text", encoding="utf-8")
    result = run(tool, "Notes/fake.docx")
    assert not result.ok and "not a valid Word" in result.text and "fake.docx" in result.text


def test_long_text_is_cut_with_a_note(world):
    content = "".join(f"line {n}\n" for n in range(10_000))
    (world["notes"] / "long.txt").write_text(content, encoding="utf-8")
    result = run(FilesTool([world["notes"]], max_read_chars=1000), "Notes/long.txt")
    assert result.ok and result.truncated
    assert "line 0\n" in result.text and "line 9999" not in result.text
    assert "[Truncated: showing the first" in result.text and f"of {len(content):,} characters" in result.text
    assert len(result.text) < 1300


def test_many_entries_are_capped(world):
    crowded = world["notes"] / "crowded"
    crowded.mkdir()
    for n in range(30):
        (crowded / f"f{n:02}.txt").write_text("x")
    result = run(FilesTool([world["notes"]], max_entries=10), "Notes/crowded", "list")
    assert result.ok
    assert "- f09.txt" in result.text and "- f10.txt" not in result.text
    assert result.text.rstrip().endswith("… and 20 more")


def test_two_folders_with_the_same_name_get_unique_names(tmp_path):
    a, b = tmp_path / "a" / "Notes", tmp_path / "b" / "Notes"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    (a / "one.txt").write_text("from a")
    (b / "one.txt").write_text("from b")
    tool = FilesTool([a, b])
    assert [folder.name for folder in tool.folders] == ["Notes", "Notes-2"]
    assert "from a" in run(tool, "Notes/one.txt").text
    assert "from b" in run(tool, "Notes-2/one.txt").text
    top = run(tool, "", "list").text
    assert "- Notes/" in top and "- Notes-2/" in top
    missing = run(tool, "one.txt")
    assert not missing.ok and "start with a shared folder's name" in missing.text


def test_the_action_can_be_left_out(tool):
    assert "call Ana" in tool.run({"path": "Notes/todo.txt"}, Cancel()).text
    assert "- todo.txt" in tool.run({"path": "Notes"}, Cancel()).text


def test_spec_tells_the_model_only_shared_folders_are_visible(tool):
    spec = tool.spec
    assert spec.name == "files"
    assert spec.parameters["properties"]["action"]["enum"] == ["list", "read"]
    assert set(spec.parameters["required"]) == {"path", "action"}
    assert "Only those folders are visible" in spec.description and '"Notes"' in spec.description
    assert spec.openai_tool()["function"]["name"] == "files"


def test_no_shared_folders_says_where_to_grant_one():
    tool = FilesTool([])
    for path, action in (("", "list"), ("notes.txt", "read")):
        result = run(tool, path, action)
        assert not result.ok
        assert "No folders are shared" in result.text and "Settings → Tools" in result.text


def test_not_found_and_wrong_kind_are_explained(tool):
    missing = run(tool, "Notes/nothing.txt")
    assert not missing.ok and "Not found: 'Notes/nothing.txt'" in missing.text
    folder = run(tool, "Notes/projects", "read")
    assert not folder.ok and "is a folder" in folder.text
    file = run(tool, "Notes/todo.txt", "list")
    assert not file.ok and "is a file" in file.text
    bad = run(tool, "Notes/todo.txt", "delete")
    assert not bad.ok and "Unknown action" in bad.text


# -- nothing outside the shared folder ---------------------------------------------------------

@pytest.mark.parametrize("path", [
    "../secret.txt", "Notes/../secret.txt", "projects/../../secret.txt", "..", "Notes/..",
    "..\\secret.txt", "/etc/passwd", "~/.bashrc", "~", "C:\\Windows\\win.ini", "C:/secret.txt",
    "\\\\server\\share\\secret.txt", "//server/share/secret.txt", "Notes/todo.txt\x00.png",
])
def test_escapes_are_refused(world, tool, path):
    for action in ("read", "list"):
        assert_refused(run(tool, path, action), path)


def test_the_absolute_path_of_the_secret_is_refused(world, tool):
    given = str(world["secret"])
    assert_refused(run(tool, given), given)


def test_a_link_to_a_file_outside_is_refused(world, tool):
    (world["notes"] / "link.txt").symlink_to(world["secret"])
    assert_refused(run(tool, "Notes/link.txt"), "Notes/link.txt")
    listing = run(tool, "Notes", "list")
    assert listing.ok and "- link.txt (link to a place outside the shared folder; not accessible)" in listing.text
    assert str(world["secret"]) not in listing.text


def test_a_linked_folder_pointing_outside_is_refused(world, tool):
    (world["notes"] / "elsewhere").symlink_to(world["outside"], target_is_directory=True)
    assert_refused(run(tool, "Notes/elsewhere/diary.txt"), "Notes/elsewhere/diary.txt")
    assert_refused(run(tool, "Notes/elsewhere", "list"), "Notes/elsewhere")
    assert "diary.txt" not in run(tool, "Notes", "list").text


def test_a_link_that_stays_inside_is_followed(world, tool):
    (world["notes"] / "latest.md").symlink_to(world["notes"] / "projects" / "plan.md")
    result = run(tool, "Notes/latest.md")
    assert result.ok and "Step one" in result.text
    assert "- latest.md (link to a file" in run(tool, "Notes", "list").text


def test_a_linked_shared_folder_itself_is_fine(world):
    alias = world["tmp"] / "NotesAlias"
    alias.symlink_to(world["notes"], target_is_directory=True)
    tool = FilesTool([alias])
    assert tool.folders[0].name == "NotesAlias", "named as the user shared it"
    assert "call Ana" in run(tool, "todo.txt").text
    assert_refused(run(tool, "../secret.txt"), "../secret.txt")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_hanging(world, tool):
    os.mkfifo(world["notes"] / "pipe")
    results: list[ToolResult] = []
    worker = threading.Thread(target=lambda: results.append(run(tool, "Notes/pipe")), daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "reading a FIFO must not block"
    assert_refused(results[0], "Notes/pipe")
    assert "named pipe" in results[0].text
    assert "- pipe (named pipe (FIFO); not readable)" in run(tool, "Notes", "list").text


def test_a_30_mb_file_is_refused_by_size_quickly(world, tool):
    with open(world["notes"] / "huge.log", "wb") as handle:
        handle.truncate(30 * 1024 * 1024)
    started = time.monotonic()
    result = run(tool, "Notes/huge.log")
    assert time.monotonic() - started < 1.0
    assert_refused(result, "Notes/huge.log")
    assert "30.0 MB" in result.text and "20.0 MB" in result.text


@pytest.mark.parametrize("name, data", [
    ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(200)),
    ("data.bin", bytes(range(256)) * 4),
    ("notes.md", b"looks like text\x00\x01\x02 but is not"),
])
def test_a_binary_file_is_refused(world, tool, name, data):
    (world["notes"] / name).write_bytes(data)
    result = run(tool, f"Notes/{name}")
    assert_refused(result, f"Notes/{name}")
    assert "binary file" in result.text


@pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="checks the descriptor's path")
def test_a_link_swapped_in_after_the_check_is_caught(world):
    """The race the open step guards: the checked path is a link by the time it is opened."""
    swapped = world["notes"] / "swapped.txt"
    swapped.symlink_to(world["secret"])
    with pytest.raises(_Refusal) as refused:
        _open_inside(str(swapped), os.path.realpath(world["notes"]), directory=False, given="Notes/swapped.txt")
    assert SECRET not in str(refused.value)
    # a parent folder swapped for a link: the open succeeds, the descriptor's path gives it away
    (world["notes"] / "via").symlink_to(world["outside"], target_is_directory=True)
    with pytest.raises(_Refusal) as refused:
        _open_inside(str(world["notes"] / "via" / "diary.txt"), os.path.realpath(world["notes"]),
                     directory=False, given="Notes/via/diary.txt")
    assert "outside the shared folder" in str(refused.value)


def test_arguments_of_the_wrong_shape_are_refused_not_raised(tool):
    for arguments in (None, [], "Notes", {"path": 5, "action": "read"}, {"path": ["x"], "action": "list"},
                      {"path": "Notes", "action": 3}):
        result = tool.run(arguments, Cancel())  # type: ignore[arg-type]
        assert isinstance(result, ToolResult) and not result.ok


def test_a_cancelled_call_stops(tool):
    cancel = Cancel()
    cancel.cancel()
    result = tool.run({"path": "Notes/todo.txt", "action": "read"}, cancel)
    assert not result.ok and "cancelled" in result.text


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(["..", ".", "Notes", "~", "/", "\\", "C:", "private", "diary.txt",
                              "secret.txt", "elsewhere", "projects", "%2e%2e", "\x00", ""]),
             max_size=6).map("/".join),
), action=st.sampled_from(["read", "list", "", None]))
def test_no_path_ever_reaches_the_secret_or_raises(fuzz_world, path, action):
    tool, given_root = fuzz_world
    result = tool.run({"path": path, "action": action}, Cancel())
    assert isinstance(result, ToolResult)
    assert SECRET not in result.text


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    notes = base / "Notes"
    notes.mkdir()
    (notes / "ok.txt").write_text("fine")
    (base / "secret.txt").write_text(SECRET)
    (base / "private").mkdir()
    (base / "private" / "diary.txt").write_text(SECRET)
    (notes / "elsewhere").symlink_to(base / "private", target_is_directory=True)
    (notes / "secret.txt").symlink_to(base / "secret.txt")
    return FilesTool([notes]), notes


# -- extraction on its own ---------------------------------------------------------------------

def test_extract_text_refuses_with_a_reason(tmp_path):
    blob = tmp_path / "blob.dat"
    blob.write_bytes(bytes(64))
    with pytest.raises(ExtractionError) as error:
        extract_text(blob)
    assert "binary" in error.value.reason
    big = tmp_path / "big.txt"
    big.write_text("x" * 2000)
    with pytest.raises(ExtractionError) as error:
        extract_text(big, max_bytes=1000)
    assert "limit" in error.value.reason
    assert extract_text(big).kind == "text" and extract_text(big).pages is None
