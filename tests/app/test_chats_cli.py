"""`hearth chats`: a user lists their chats, takes them to another computer and back, reads them
as markdown, and gets one line and exit code 2 for anything that cannot be done."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import paths
from app.cli import main
from engine.store import Store

ROOT = Path(__file__).resolve().parents[2]
PICTURE = b"\x89PNG not really, but bytes all the same"


def a_history_with_two_chats() -> list[int]:
    """Two chats in the data folder the CLI opens: one with a picture and a regenerated answer."""
    with Store(paths.database_path()) as store:
        soup = store.create_conversation("Soup for a cold day", "Be warm.")
        question = store.add_message(soup.id, "user", "Something with leeks?")
        sha = hashlib.sha256(PICTURE).hexdigest()
        (paths.attachments_dir() / sha[:2]).mkdir()
        (paths.attachments_dir() / sha[:2] / f"{sha}.png").write_bytes(PICTURE)
        store.add_attachment(question.id, sha256=sha, mime="image/png", path=f"{sha[:2]}/{sha}.png",
                             width=2, height=2, size=len(PICTURE))
        first = store.add_message(soup.id, "assistant", "Leek and potato.")
        store.set_aside_answer(first.id)
        store.add_message(soup.id, "assistant", "Vichyssoise, served hot.")
        bread = store.create_conversation("Bread")
        store.add_message(bread.id, "user", "Why did my loaf sink?")
        store.add_message(bread.id, "assistant", "Too much proofing.")
        return [soup.id, bread.id]


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_user_lists_their_chats_as_text_and_as_json(capsys) -> None:
    assert run(capsys, "chats", "list") == (0, "No chats yet.\n", "")
    soup, bread = a_history_with_two_chats()
    code, out, _ = run(capsys, "chats", "list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [str(bread), str(soup)]  # most recent first
    assert out.splitlines()[1].endswith("2 msg  Soup for a cold day")
    code, out, _ = run(capsys, "chats", "list", "--json")
    assert [(row["id"], row["title"], row["messages"]) for row in json.loads(out)] == [
        (bread, "Bread", 2), (soup, "Soup for a cold day", 2)]


def test_chats_exported_here_come_back_whole_on_another_computer(capsys, tmp_path, monkeypatch) -> None:
    a_history_with_two_chats()
    code, out, err = run(capsys, "chats", "export", "--out", str(tmp_path / "chats.json"))
    assert (code, err) == (0, "")
    assert out == f"Exported 2 chats (4 messages, 1 attachment) to {tmp_path / 'chats.json'}.\n"
    exported = json.loads((tmp_path / "chats.json").read_text(encoding="utf-8"))

    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "laptop"))
    code, out, _ = run(capsys, "chats", "import", str(tmp_path / "chats.json"))
    assert (code, out) == (0, "Imported 2 chats (4 messages, 1 attachment) from a Hearth export.\n")
    code, out, _ = run(capsys, "chats", "import", str(tmp_path / "chats.json"))
    assert (code, out) == (0, "Imported 0 chats (0 messages) from a Hearth export; skipped 2 chats already here.\n")

    run(capsys, "chats", "export", "--out", str(tmp_path / "again.json"))
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    for document in (exported, again):
        for chat in document["conversations"]:
            chat.pop("id")
            for message in chat["messages"]:
                message.pop("id")
    assert again == exported
    sha = hashlib.sha256(PICTURE).hexdigest()
    assert (tmp_path / "laptop" / "attachments" / sha[:2] / f"{sha}.png").read_bytes() == PICTURE


def test_markdown_is_one_file_for_one_chat_and_a_folder_for_several(capsys, tmp_path) -> None:
    soup, bread = a_history_with_two_chats()
    code, out, _ = run(capsys, "chats", "export", str(soup), "--out", str(tmp_path / "soup.md"))
    assert code == 0 and out.startswith("Exported 1 chat (2 messages, 1 attachment)")
    text = (tmp_path / "soup.md").read_text(encoding="utf-8")
    assert "# Soup for a cold day" in text and "Vichyssoise, served hot." in text and "Answer 2 of 2 on show" in text
    assert len(list((tmp_path / "soup-images").iterdir())) == 1

    code, _, _ = run(capsys, "chats", "export", str(soup), str(bread), "--format", "md", "--out", str(tmp_path / "all"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["Bread.md", "Soup for a cold day.md", "images"]


@pytest.mark.parametrize("args, says", [
    (["chats", "export", "99", "--out", "x.json"], "hearth: There is no chat 99 to export."),
    (["chats", "export", "--format", "xml", "--out", "x"], "hearth: argument --format: invalid choice"),
    (["chats", "export"], "hearth: the following arguments are required: --out"),
    (["chats", "import", "nowhere.json"], "hearth: Could not read nowhere.json"),
    (["chats"], "hearth: the following arguments are required: list|export|import"),
])
def test_what_cannot_be_done_is_one_line_and_exit_code_2(capsys, tmp_path, monkeypatch, args, says) -> None:
    a_history_with_two_chats()
    monkeypatch.chdir(tmp_path)
    try:
        code, out, err = run(capsys, *args)
    except SystemExit as exit_:  # argparse's own errors leave through exit()
        code, (out, err) = exit_.code, capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith(says) and err.count("\n") == 1


def test_several_chats_as_markdown_will_not_overwrite_a_file(capsys, tmp_path) -> None:
    a_history_with_two_chats()
    (tmp_path / "notes.md").write_text("mine")
    code, _, err = run(capsys, "chats", "export", "--format", "md", "--out", str(tmp_path / "notes.md"))
    assert code == 2 and "is a file; several chats are exported to a folder" in err
    assert (tmp_path / "notes.md").read_text() == "mine"


def test_bad_files_are_refused_from_the_real_command_with_nothing_imported(tmp_path, hearth_home) -> None:
    a_history_with_two_chats()
    (tmp_path / "export.json").write_text(json.dumps({"format": "hearth-chats", "version": 7, "conversations": []}))
    (tmp_path / "cut.json").write_text('{"format": "hearth-chats", "version": 1, "conversations": [{"id": 1, "ti')
    (tmp_path / "junk.json").write_bytes(os.urandom(50 * 1024 * 1024))
    duplicated = {"format": "hearth-chats", "version": 1, "conversations": [
        {"id": 5, "title": "A", "created_at": 1.0, "messages": []},
        {"id": 5, "title": "B", "created_at": 2.0, "messages": []}]}
    (tmp_path / "twice.json").write_text(json.dumps(duplicated))
    expected = {"export.json": "written by a newer Hearth (chat file version 7",
                "cut.json": "cut short", "junk.json": "it is not text",
                "twice.json": "conversation id 5 appears twice"}
    for name, says in expected.items():
        result = subprocess.run([sys.executable, "-m", "app", "chats", "import", str(tmp_path / name)],
                                capture_output=True, text=True, cwd=ROOT, timeout=120,
                                env=dict(os.environ, HEARTH_HOME=str(hearth_home)))
        assert result.returncode == 2 and result.stdout == "", (name, result.stdout)
        assert result.stderr.count("\n") == 1 and says in result.stderr, (name, result.stderr)
    with Store(paths.database_path()) as store:
        assert [c.title for c in store.list_conversations()] == ["Bread", "Soup for a cold day"]
