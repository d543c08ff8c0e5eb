"""A user gathers their documents into a knowledge collection in the window: the index runs in
the background with a progress bar, Cancel keeps what was done and Update carries on from there,
a file that cannot be read is listed with the reason, and quitting mid-index loses nothing.

Real files in every format (the corpus of tests/engine/test_knowledge_corpus.py), the real
bundled MiniLM and the real indexer. Small files are embedded in batches of a few chunks here
(PENDING_CHUNKS) so a 24-file folder shows progress and can be stopped part-way.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

import engine.knowledge.indexer as indexer
from tests.engine.test_knowledge_corpus import DOCUMENTS, build_corpus
from tests.support.app import running_hearth

FILES = len(DOCUMENTS)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(indexer, "PENDING_CHUNKS", 3)


@pytest.fixture
def documents(tmp_path) -> Path:
    folder = build_corpus(tmp_path / "handbook", filler_paragraphs=2)
    (folder / "scanned_contract.pdf").write_bytes(b"%PDF-1.4\nthis is not a PDF at all\n")
    return folder


def collection(hearth, name: str):
    return next(c for c in hearth.knowledge_index.collections() if c.name == name)


def table_row(dialog, name: str) -> list[str]:
    for row in range(dialog.table.rowCount()):
        if dialog.table.item(row, 0).text() == name:
            return [dialog.table.item(row, column).text() for column in range(dialog.table.columnCount())]
    raise AssertionError(f"{name} is not in the table")


def start_and_stop_after_first_files(qtbot, hearth, seen: list):
    """Wait for the first files to be saved, then press Cancel as the user would."""
    dialog = hearth.knowledge_index.dialog
    qtbot.waitUntil(lambda: any(p.outcome == "indexed" for p in seen), timeout=120000)
    assert dialog.progress_box.isVisible() and dialog.cancel_button.isEnabled()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)


def test_a_folder_indexes_with_progress_stops_on_cancel_and_update_carries_on(qtbot, small_batches, documents,
                                                                              monkeypatch):
    with running_hearth(qtbot) as hearth:
        knowledge = hearth.knowledge_index
        hearth.window.knowledge_action.trigger()
        dialog = knowledge.dialog
        assert dialog.isVisible() and dialog.empty_note.isVisible()

        dialog.new_requested.emit("Handbook")   # the name typed in "New collection…"
        assert dialog.selected_name() == "Handbook" and table_row(dialog, "Handbook")[1:3] == ["0", "0"]
        seen = []
        knowledge.index_progressed.connect(seen.append)
        with qtbot.waitSignal(knowledge.index_ended, timeout=120000) as ended:
            dialog.add_requested.emit("Handbook", [str(documents)])   # Add folder…
            assert not dialog.add_folder_button.isEnabled() and not dialog.update_button.isEnabled()
            hearth.window.composer.edit.setFocus()
            qtbot.keyClicks(hearth.window.composer.edit, "still typing")   # the window keeps working
            start_and_stop_after_first_files(qtbot, hearth, seen)
        assert ended.args == ["Handbook", "cancelled"]
        assert hearth.window.composer.edit.toPlainText() == "still typing"
        assert seen[0].outcome == "started" and seen[0].total == FILES + 1
        assert [p.done for p in seen] == sorted(p.done for p in seen), "progress only goes forward"
        stopped = collection(hearth, "Handbook")
        kept = stopped.files
        assert 0 < kept < FILES, "Cancel keeps the files already indexed, and stops before the rest"
        assert "Stopped indexing Handbook" in dialog.message.text()
        assert not dialog.progress_box.isVisible() and dialog.update_button.isEnabled()
        assert table_row(dialog, "Handbook")[1] == str(kept)

        seen.clear()
        with qtbot.waitSignal(knowledge.index_ended, timeout=120000) as ended:
            qtbot.mouseClick(dialog.update_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: dialog.progress.value() > 0 or ended.signal_triggered, timeout=60000)
            assert "Indexing Handbook:" in dialog.progress_label.text() or ended.signal_triggered
        assert ended.args == ["Handbook", "finished"]
        done = collection(hearth, "Handbook")
        assert seen[-1].outcome == "finished" and seen[-1].chunks == done.chunks - stopped.chunks, \
            "Update embeds only what Cancel left: it picks up where it stopped"
        assert (done.files, done.failed) == (FILES, 1)
        assert table_row(dialog, "Handbook") == ["Handbook", str(FILES), str(done.chunks), "1"]
        assert dialog.progress.value() == dialog.progress.maximum() == FILES + 1
        assert f"{FILES} files" in dialog.message.text() and "1 could not be read" in dialog.message.text()
        [unreadable] = [dialog.failed.item(i).text() for i in range(dialog.failed.count())]
        assert unreadable.startswith("scanned_contract.pdf — ") and len(unreadable) > len("scanned_contract.pdf — ")
        assert [dialog.roots.item(i).text() for i in range(dialog.roots.count())] == [str(documents.resolve())]

        seen.clear()   # nothing changed: nothing is read again, nothing is added twice
        with qtbot.waitSignal(knowledge.index_ended, timeout=60000):
            knowledge.update("Handbook")
        assert collection(hearth, "Handbook").chunks == done.chunks
        assert {p.outcome for p in seen if p.path} <= {"unchanged", "failed"}

        extra = documents.parent / "late_addition.md"
        extra.write_text("# Late addition\n\nThe boathouse key hangs behind the red door.\n", encoding="utf-8")
        with qtbot.waitSignal(knowledge.index_ended, timeout=60000):
            dialog.add_requested.emit("Handbook", [str(extra)])   # Add files…
        assert collection(hearth, "Handbook").files == FILES + 1
        dialog.roots.setCurrentRow([dialog.roots.item(i).text() for i in range(dialog.roots.count())]
                                   .index(str(extra.resolve())))
        assert dialog.remove_path_button.isEnabled()
        qtbot.mouseClick(dialog.remove_path_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: collection(hearth, "Handbook").files == FILES, timeout=30000)
        qtbot.waitUntil(lambda: dialog.roots.count() == 1, timeout=5000)

        monkeypatch.setattr(QMessageBox, "exec", lambda self: QMessageBox.StandardButton.Yes)
        qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
        assert hearth.knowledge_index.collections() == [] and dialog.empty_note.isVisible()
        assert documents.joinpath("lighthouse.md").is_file(), "deleting a collection leaves the files alone"


def test_quitting_mid_index_keeps_what_was_saved_and_the_next_update_finishes_it(qtbot, small_batches, documents):
    with running_hearth(qtbot) as hearth:
        seen = []
        hearth.knowledge_index.index_progressed.connect(seen.append)
        hearth.knowledge_index.new_collection("Handbook")
        hearth.knowledge_index.add_paths("Handbook", [str(documents)])
        qtbot.waitUntil(lambda: any(p.outcome == "indexed" for p in seen), timeout=120000)
    # The window closed mid-index (shutdown stops it after the file in hand); a new start:
    with running_hearth(qtbot) as hearth:
        stopped = collection(hearth, "Handbook")
        assert 0 < stopped.files < FILES
        hearth.window.knowledge_action.trigger()
        seen = []
        hearth.knowledge_index.index_progressed.connect(seen.append)
        with qtbot.waitSignal(hearth.knowledge_index.index_ended, timeout=120000) as ended:
            qtbot.mouseClick(hearth.knowledge_index.dialog.update_button, Qt.MouseButton.LeftButton)
        assert ended.args == ["Handbook", "finished"]
        done = collection(hearth, "Handbook")
        assert seen[-1].chunks == done.chunks - stopped.chunks, "only what the quit left is embedded"
        assert (done.files, done.failed) == (FILES, 1)
        sources = hearth.knowledge.knowledge.sources(hearth.knowledge.knowledge.collection_id("Handbook"))
        assert len({s.path for s in sources}) == len(sources) == FILES + 1
        assert sum(s.chunks for s in sources) == done.chunks
