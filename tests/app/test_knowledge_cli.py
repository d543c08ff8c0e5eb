"""`hearth knowledge` from a terminal: add a folder, list, search, remove; a kill -9 mid-index
and a second `add` finish the index with nothing doubled; mistakes are one line and exit 2."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.test_knowledge import assert_consistent
from tests.engine.test_knowledge_corpus import FILLER, build_corpus

ROOT = Path(__file__).resolve().parents[2]


def hearth(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "knowledge", *args], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, HEARTH_HOME=str(home)), timeout=240)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    home = tmp_path_factory.mktemp("home")
    corpus = build_corpus(tmp_path_factory.mktemp("corpus"), filler_paragraphs=1)
    return home, corpus, hearth("add", "home", str(corpus), home=home)


def test_adding_a_folder_indexes_it_with_progress_on_stderr(indexed) -> None:
    home, corpus, added = indexed
    assert added.returncode == 0, added.stderr
    lines = added.stderr.splitlines()
    assert lines[0].startswith("[1/24] indexed ") and lines[-1].startswith("home: 24 files (0 not readable)")

    listed = hearth("list", "--json", home=home)
    [collection] = json.loads(listed.stdout)
    assert (collection["name"], collection["files"], collection["paths"]) == ("home", 24, [str(corpus)])


def test_search_prints_path_score_passage_and_location(indexed) -> None:
    home, corpus, _ = indexed
    result = hearth("search", "home", "How fast can a hummingbird's heart beat?", "--top", "3", "--json", home=home)
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(hits) == 3 and hits[0]["path"] == str(corpus / "hummingbirds.pdf")
    assert hits[0]["location"] in ("page 2", "pages 1-2")   # a short first page joins the next
    assert "1,260 times" in hits[0]["passage"]
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]

    plain = hearth("search", "home", "Garage Lindqvist", home=home)
    assert plain.returncode == 0 and plain.stdout.startswith("0.") and "car_log.txt" in plain.stdout.splitlines()[0]


def test_removing_a_path_then_the_collection(tmp_path) -> None:
    home = tmp_path / "home"
    notes, more = tmp_path / "notes", tmp_path / "more"
    notes.mkdir(), more.mkdir()
    (notes / "bees.md").write_text("# Bees\n\nThe hive produced nine kilograms of honey.\n", encoding="utf-8")
    (more / "owls.txt").write_text("A barn owl nests in the old mill.\n", encoding="utf-8")
    assert hearth("add", "garden", str(notes), str(more), home=home).returncode == 0

    assert hearth("remove", "garden", str(more), home=home).returncode == 0
    found = hearth("search", "garden", "barn owl", "--json", home=home).stdout
    assert "owls.txt" not in found and "bees.md" in found

    assert hearth("remove", "garden", home=home).returncode == 0
    assert json.loads(hearth("list", "--json", home=home).stdout) == []


@pytest.mark.parametrize("args, says", [
    (("search", "nothing-here", "query"), "no knowledge collection named 'nothing-here'"),
    (("add", "x", "/no/such/folder"), "no such file or folder: /no/such/folder"),
    (("remove", "nothing-here"), "no knowledge collection named"),
    (("add", "x"), "no knowledge collection named 'x'"),
])
def test_mistakes_are_one_line_and_exit_2(tmp_path, args, says) -> None:
    result = hearth(*args, home=tmp_path / "home")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and says in result.stderr and not result.stdout


def test_kill_9_mid_index_then_add_again_finishes_with_nothing_doubled(tmp_path) -> None:
    home = tmp_path / "home"
    corpus = build_corpus(tmp_path / "docs", filler_paragraphs=2)
    for number in range(40):
        (corpus / f"memo_{number:02d}.txt").write_text(f"Memo {number}.\n\n" + (FILLER * 6 + "\n\n") * 3, encoding="utf-8")
    child = subprocess.Popen([sys.executable, "-m", "app", "knowledge", "add", "big", str(corpus)], cwd=ROOT,
                             env=dict(os.environ, HEARTH_HOME=str(home)), stderr=subprocess.PIPE, text=True)
    try:
        for line in child.stderr:
            if line.startswith("[6/"):
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    database = home / "hearth.sqlite3"
    with sqlite3.connect(database) as conn:
        saved = conn.execute("SELECT count(*) FROM knowledge_sources").fetchone()[0]
    assert 6 <= saved < 64

    again = hearth("add", "big", str(corpus), home=home)

    assert again.returncode == 0, again.stderr
    outcomes = [line.split()[1] for line in again.stderr.splitlines() if line.startswith("[")]
    assert outcomes.count("unchanged") == saved and outcomes.count("indexed") == 64 - saved
    assert_consistent(database)
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM knowledge_sources WHERE state = 'indexed'").fetchone()[0] == 64
        doubled = conn.execute("SELECT count(*) FROM (SELECT source_id, start, end FROM knowledge_chunks "
                               "GROUP BY 1, 2, 3 HAVING count(*) > 1)").fetchone()[0]
        assert doubled == 0
