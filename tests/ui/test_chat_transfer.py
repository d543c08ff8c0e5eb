"""A user takes their chats out of Hearth and brings them back, from the window's Chat menu:
everything comes back with its messages, a second import adds nothing twice, and a file that is
not a chat export says so and adds nothing."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from tests.support.app import running_hearth


@pytest.fixture
def hearth(qtbot):
    with running_hearth(qtbot) as controller:
        yield controller


class Answers:
    """The user's side of the file dialogs: the path they pick, and the problems shown to them."""

    def __init__(self, hearth) -> None:
        self.export_to: tuple = ()
        self.import_from = None
        self.problems: list[tuple[str, str]] = []
        self.offered: list[tuple[str, bool]] = []
        transfers = hearth.transfers
        transfers.choose_export_file = self._export
        transfers.choose_import_file = lambda _parent: self.import_from
        transfers.show_problem = lambda _parent, title, text: self.problems.append((title, text))

    def _export(self, _parent, suggested, several):
        self.offered.append((suggested.name, several))
        return self.export_to


def two_chats(hearth):
    store = hearth.store
    tulips = store.create_conversation(title="Tulips", system_prompt="You are a gardener.")
    store.add_message(tulips.id, "user", "How deep should I plant tulip bulbs?")
    answer = store.add_message(tulips.id, "assistant", "About **15 cm** deep, pointy end up.")
    store.save_thinking(answer.id, "Bulbs go three times their height deep.", 1.5)
    soup = store.create_conversation(title="Lentil soup")
    store.add_message(soup.id, "user", "A recipe for lentil soup, please")
    store.add_message(soup.id, "assistant", "Simmer red lentils with onion, cumin and stock for 20 minutes.")
    hearth.refresh_conversations()
    return tulips, soup


def run_menu_action(qtbot, hearth, action) -> str:
    """Pick the menu entry and wait for the work to finish off the GUI thread; the status bar's words."""
    assert action in hearth.window.chat_menu.actions()
    action.trigger()
    qtbot.waitUntil(lambda: not hearth.transfers.busy, timeout=10000)
    return hearth.window.statusBar().currentMessage()


def list_titles(hearth) -> list[str]:
    chats = hearth.window.conversations.list
    return sorted(chats.item(i).text() for i in range(chats.count()))


def open_from_list(qtbot, hearth, title: str) -> list[str]:
    chats = hearth.window.conversations.list
    item = next(chats.item(i) for i in range(chats.count()) if chats.item(i).text() == title)
    qtbot.mouseClick(chats.viewport(), Qt.MouseButton.LeftButton, pos=chats.visualItemRect(item).center())
    return [widget.text() for widget in hearth.window.messages.widgets()]


def test_export_all_chats_delete_them_and_import_them_back(qtbot, hearth, tmp_path):
    answers = Answers(hearth)
    tulips, soup = two_chats(hearth)
    window = hearth.window

    # Chat → Export all chats…, "Hearth JSON" picked in the dialog; the name gets its .json.
    answers.export_to = (tmp_path / "my chats", "json")
    said = run_menu_action(qtbot, hearth, window.export_all_action)
    assert answers.offered == [("Hearth chats", True)]
    assert said.startswith("Exported 2 chats (4 messages")
    document = json.loads((tmp_path / "my chats.json").read_text(encoding="utf-8"))
    assert sorted(c["title"] for c in document["conversations"]) == ["Lentil soup", "Tulips"]

    # The chats are deleted (Delete on each, as the list's key does).
    for chat in (tulips, soup):
        hearth._delete(chat.id)
    assert list_titles(hearth) == [] and hearth.store.list_conversations() == []

    # Chat → Import chats…: both are back in the list with their messages, prompt and thinking.
    answers.import_from = tmp_path / "my chats.json"
    said = run_menu_action(qtbot, hearth, window.import_action)
    assert said == "Imported 2 chats (4 messages) from a Hearth export."
    assert list_titles(hearth) == ["Lentil soup", "Tulips"]
    assert open_from_list(qtbot, hearth, "Tulips") == ["How deep should I plant tulip bulbs?",
                                                       "About **15 cm** deep, pointy end up."]
    back = next(c for c in hearth.store.list_conversations() if c.title == "Tulips")
    assert back.system_prompt == "You are a gardener."
    answer_id = hearth.store.messages(back.id)[-1].id
    assert hearth.store.thinking_for([answer_id])[answer_id].text == "Bulbs go three times their height deep."
    assert open_from_list(qtbot, hearth, "Lentil soup")[0] == "A recipe for lentil soup, please"

    # The same file again: nothing twice.
    said = run_menu_action(qtbot, hearth, window.import_action)
    assert said == "Imported 0 chats (0 messages) from a Hearth export; skipped 2 chats already here."
    assert list_titles(hearth) == ["Lentil soup", "Tulips"]
    assert answers.problems == []


def test_a_file_that_is_not_a_chat_export_says_so_and_adds_nothing(qtbot, hearth, tmp_path):
    answers = Answers(hearth)
    two_chats(hearth)
    junk = tmp_path / "shopping.json"
    junk.write_text("eggs, milk, bread\n", encoding="utf-8")

    answers.import_from = junk
    said = run_menu_action(qtbot, hearth, hearth.window.import_action)

    assert len(answers.problems) == 1
    title, text = answers.problems[0]
    assert title == "Import failed"
    assert text.startswith("shopping.json is not a chat export") and "\n" not in text
    assert said == f"Import failed: {text}"
    assert list_titles(hearth) == ["Lentil soup", "Tulips"] and len(hearth.store.list_conversations()) == 2


def test_the_open_chat_as_markdown_and_several_chats_as_a_folder_of_markdown(qtbot, hearth, tmp_path):
    answers = Answers(hearth)
    tulips, soup = two_chats(hearth)
    hearth.transcript.open(tulips.id)

    # Chat → Export chat… with "Markdown to read" picked: one .md file for the open chat.
    answers.export_to = (tmp_path / "Tulips.json", "md")  # the filter decides; the ending follows it
    said = run_menu_action(qtbot, hearth, hearth.window.export_chat_action)
    assert answers.offered[-1] == ("Tulips", False)
    text = (tmp_path / "Tulips.md").read_text(encoding="utf-8")
    assert text.startswith("# Tulips") and "About **15 cm** deep" in text
    assert not (tmp_path / "Tulips.json").exists() and said.startswith("Exported 1 chat ")

    # Export all chats as markdown: a folder with one file per chat.
    answers.export_to = (tmp_path / "notes.md", "md")
    run_menu_action(qtbot, hearth, hearth.window.export_all_action)
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == ["Lentil soup.md", "Tulips.md"]

    # The chat list's right-click "Export…" (the menu emits this for the chat under the mouse).
    answers.export_to = (tmp_path / "soup", "json")
    hearth.window.conversations.export_requested.emit([soup.id])
    qtbot.waitUntil(lambda: not hearth.transfers.busy, timeout=10000)
    assert [c["title"] for c in json.loads((tmp_path / "soup.json").read_text())["conversations"]] == ["Lentil soup"]


def test_several_chats_picked_in_the_list_are_exported_together(qtbot, hearth, tmp_path):
    answers = Answers(hearth)
    tulips, soup = two_chats(hearth)
    third = hearth.store.create_conversation(title="Bike repair")
    hearth.store.add_message(third.id, "user", "How do I fix a puncture?")
    hearth.refresh_conversations()
    hearth.transcript.open(tulips.id)
    chats = hearth.window.conversations.list

    def item(title: str):
        return next(chats.item(i) for i in range(chats.count()) if chats.item(i).text() == title)

    def click(title: str, modifier=Qt.KeyboardModifier.NoModifier) -> None:
        qtbot.mouseClick(chats.viewport(), Qt.MouseButton.LeftButton, modifier, chats.visualItemRect(item(title)).center())

    click("Lentil soup", Qt.KeyboardModifier.ControlModifier)
    click("Bike repair", Qt.KeyboardModifier.ControlModifier)
    assert hearth.transcript.current_id == tulips.id, "Ctrl-click picks a chat; it does not open it"
    assert sorted(item.text() for item in chats.selectedItems()) == ["Bike repair", "Lentil soup", "Tulips"]

    # A right-click on one of them, the menu dismissed: the picks are still there.
    lentils = chats.visualItemRect(item("Lentil soup")).center()
    QTimer.singleShot(300, lambda: QApplication.activePopupWidget() and QApplication.activePopupWidget().close())
    chats.customContextMenuRequested.emit(lentils)
    assert len(chats.selectedItems()) == 3, "dismissing the menu dropped the picks"

    hearth.refresh_conversations()  # an answer ending elsewhere rebuilds the list: the picks stay
    assert len(chats.selectedItems()) == 3

    menu = hearth.window.conversations.menu_for(item("Lentil soup"))  # right-click on one of the picked chats
    assert [a.text() for a in menu.actions()] == ["Export 3 chats…"]
    answers.export_to = (tmp_path / "three.json", "json")
    menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: not hearth.transfers.busy, timeout=10000)
    assert answers.offered[-1][1] is True, "the file dialog is told several chats go out"
    exported = json.loads((tmp_path / "three.json").read_text())["conversations"]
    assert sorted(c["title"] for c in exported) == ["Bike repair", "Lentil soup", "Tulips"]
    assert hearth.window.statusBar().currentMessage().startswith("Exported 3 chats")

    # A plain click opens one chat and leaves the others; its menu is for that chat alone.
    click("Bike repair")
    assert hearth.transcript.current_id == third.id and len(chats.selectedItems()) == 1
    assert [a.text() for a in hearth.window.conversations.menu_for(item("Bike repair")).actions()] == [
        "Rename…", "Settings…", "Export…", "Delete"]
