"""A user reads an answer that drew on their documents: under it, the sources it cites — [1] file
· place — and a click shows the passage highlighted in its document, scrolled into view, with the
file's path. The file itself opens only on request, after Hearth has shown where it is and asked."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QUrl, Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from app import paths
from engine.store import Store
from engine.store.answer_sources import save_sources
from engine.store.records import AnswerSource
from tests.support.app import last_widget, running_hearth
from tests.support.openai_server import scripted_server
from ui.sources_list import SourcesList

PASSAGE = "The ferry to the island leaves at 7:40 from pier 3."
HOSTILE_NAME = "<img src=big.png> notes & plans.md"


@pytest.fixture
def library(tmp_path: Path) -> dict[str, Path]:
    """The user's files: a long travel guide whose answer passage sits far down, and a file with
    markup in its name."""
    guide = tmp_path / "guide.md"
    filler = "\n\n".join(f"## Day {n}\n\nWalk along the coast and look at the birds." for n in range(1, 120))
    guide.write_text(f"# Island guide\n\n{filler}\n\n## Getting there\n\n{PASSAGE}\n\n## Money\n\nBring cash.\n")
    odd = tmp_path / HOSTILE_NAME
    odd.write_text("Pack light.\n")
    return {"guide": guide, "odd": odd}


@pytest.fixture
def chat_with_sources(library) -> int:
    """A chat from an earlier session: the answer cites two passages, saved with it."""
    guide_text = library["guide"].read_text()
    start = guide_text.index(PASSAGE)
    with Store(paths.database_path()) as store:
        chat = store.create_conversation("Island trip")
        store.add_message(chat.id, "user", "When does the ferry leave?")
        answer = store.add_message(chat.id, "assistant", "At 7:40 from pier 3 [1]. Pack light [2].")
        save_sources(store, answer.id, [
            AnswerSource(1, str(library["guide"]), "Island guide > Getting there", start, start + len(PASSAGE),
                         PASSAGE, "travel"),
            AnswerSource(2, str(library["odd"]), "", 0, 11, "Pack light.", "travel")])
    return chat.id


@pytest.fixture
def hearth(qtbot, chat_with_sources):
    with scripted_server(["doc-model"]) as server, running_hearth(
            qtbot, {"remote/enabled": True, "remote/base_url": server.base_url, "remote/model": ""}) as controller:
        yield controller


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch):
    """Every question Hearth asks (answered as `answer["button"]` says) and every file it opens."""
    record = {"boxes": [], "opened": [], "button": QMessageBox.StandardButton.Cancel}

    def exec_(box: QMessageBox) -> int:
        record["boxes"].append((box.windowTitle(), box.text(), box.informativeText()))
        return record["button"]

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: record["opened"].append(url) or True))
    return record


def sources_under(widget) -> SourcesList:
    return widget.findChild(SourcesList, "answerSources")


def test_the_answer_lists_its_sources_and_a_click_shows_the_passage_in_its_document(qtbot, hearth, library, asked):
    answer = last_widget(hearth)
    listing = sources_under(answer)
    assert listing is not None, "the answer's sources are not listed under it"
    assert listing.lines() == ["[1] guide.md · Island guide > Getting there", f"[2] {HOSTILE_NAME}"]
    assert listing.links[1].text() == f"[2] {HOSTILE_NAME}".replace("&", "&&"), "shown as typed"
    assert "&lt;img\xa0src=big.png&gt;" in listing.links[1].toolTip(), "the tooltip must not read the name as HTML"
    assert answer.text() == "At 7:40 from pier 3 [1]. Pack light [2].", "the citations stay in the answer's words"

    qtbot.mouseClick(listing.links[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hearth.sources.viewer is not None and hearth.sources.viewer.isVisible(), timeout=10000)
    viewer = hearth.sources.viewer
    assert viewer.text_view.toPlainText() == library["guide"].read_text(), "the whole document is there"
    assert viewer.selected_text() == PASSAGE, "the passage is selected"
    [highlight] = viewer.text_view.extraSelections()
    assert highlight.cursor.selectedText() == PASSAGE, "the passage is highlighted"
    assert viewer.path_label.text() == str(library["guide"])
    assert viewer.heading.text() == "guide.md · Island guide > Getting there"
    qtbot.waitUntil(lambda: viewer.text_view.verticalScrollBar().value() > 0, timeout=3000)
    assert viewer.text_view.viewport().rect().contains(viewer.text_view.cursorRect()), "scrolled to the passage"

    # Open file asks first, showing the full path; Cancel opens nothing.
    qtbot.mouseClick(viewer.open_button, Qt.MouseButton.LeftButton)
    assert asked["boxes"] == [("Open file?", "Open this file with its usual app?", str(library["guide"]))]
    assert asked["opened"] == []
    asked["button"] = QMessageBox.StandardButton.Open
    qtbot.mouseClick(viewer.open_button, Qt.MouseButton.LeftButton)
    assert asked["opened"] == [QUrl.fromLocalFile(str(library["guide"]))]


def test_a_source_whose_file_is_gone_shows_the_passage_it_was_given(qtbot, hearth, library, asked):
    library["guide"].unlink()
    listing = sources_under(last_widget(hearth))
    qtbot.mouseClick(listing.links[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hearth.sources.viewer is not None, timeout=10000)
    viewer = hearth.sources.viewer
    assert viewer.text_view.toPlainText() == PASSAGE and viewer.selected_text() == PASSAGE
    assert "no longer there" in viewer.note.text() and viewer.note.isVisibleTo(viewer)
    assert not viewer.open_button.isEnabled() and "no longer there" in viewer.open_button.toolTip()
    qtbot.mouseClick(viewer.open_button, Qt.MouseButton.LeftButton)
    assert asked["opened"] == [] and asked["boxes"] == [], "a file that is gone is not offered to the system"


def test_the_sources_come_back_when_the_chat_is_opened_again(qtbot, hearth, chat_with_sources):
    other = hearth.conversations.new_conversation()
    assert hearth.transcript.current_id == other
    hearth.transcript.open(chat_with_sources)
    assert sources_under(last_widget(hearth)).lines()[0] == "[1] guide.md · Island guide > Getting there"
