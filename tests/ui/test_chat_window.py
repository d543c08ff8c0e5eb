"""A user's first session with Hearth, on the real starter model in a real (offscreen) window."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.gui.main_window_controller import HearthController
from ui.search_results import HIT_RUNS_ROLE
from tests.support.app import last_widget, running_hearth, send


@pytest.fixture
def hearth(qtbot):
    with running_hearth(qtbot, {"chat/temperature": 0.0, "chat/max_tokens": 40, "engine/n_ctx": 2048}) as controller:
        yield controller


def wait_ready(qtbot, hearth):
    qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60000)


def test_type_send_stop_regenerate_switch_and_find_it_all_after_a_relaunch(qtbot, hearth):
    window = hearth.window
    assert window.isVisible()
    # The composer works before the model is ready; the message waits for it.
    send(qtbot, hearth, "Hello! Who are you?")
    assert window.composer.edit.toPlainText() == ""
    deltas = []
    hearth.answers.answer_finished.connect(lambda mid: None)
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=90000) as finished:
        pass
    first_answer_id = finished.args[0]
    answer = hearth.store.get_message(first_answer_id)
    assert answer.state == "complete" and answer.content.strip()
    assert last_widget(hearth).text() == answer.content
    assert "tok/s" in last_widget(hearth)._footer.text()

    # A long answer, stopped mid-way: kept and marked interrupted.
    hearth.settings.set("chat/max_tokens", 400)
    send(qtbot, hearth, "Write a long story about a lighthouse keeper.")
    qtbot.waitUntil(lambda: len(last_widget(hearth).text()) > 20, timeout=60000)
    assert hearth.answers.streaming, last_widget(hearth).text()
    assert window.composer.stop_button.isVisible()
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=30000) as stopped:
        qtbot.mouseClick(window.composer.stop_button, Qt.MouseButton.LeftButton)
    partial = hearth.store.get_message(stopped.args[0])
    assert partial.state == "interrupted" and partial.content
    assert last_widget(hearth).state == "interrupted"

    # Regenerate replaces the last answer with a new one, streamed in pieces.
    hearth.settings.set("chat/max_tokens", 30)
    pieces = []
    hearth.engine  # noqa: B018
    regenerate = last_widget(hearth).regenerate_button
    assert regenerate.isVisible()
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000) as regenerated:
        qtbot.mouseClick(regenerate, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: last_widget(hearth).message_id != stopped.args[0], timeout=5000)
        last_widget(hearth).layout()  # noqa: B018
    assert regenerated.args[0] != stopped.args[0]
    assert hearth.store.get_message(stopped.args[0]) is None

    # The story Regenerate replaced is kept: ‹ brings it back in the answer's place, › returns.
    answer = last_widget(hearth)
    new_text = answer.text()
    assert answer.version_label.isVisible() and answer.version_label.text() == "2 / 2"
    assert not answer.later_version_button.isEnabled()
    qtbot.mouseClick(answer.earlier_version_button, Qt.MouseButton.LeftButton)
    assert answer.text() == partial.content and answer.state == "interrupted"
    assert answer.version_label.text() == "1 / 2"
    assert hearth.store.messages(hearth.transcript.current_id)[-1].content == partial.content
    qtbot.mouseClick(answer.later_version_button, Qt.MouseButton.LeftButton)
    assert answer.text() == new_text and answer.state == "complete" and "tok/s" in answer._footer.text()
    # The same from the keyboard, while typing the next question.
    window.composer.edit.setFocus()
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert answer.text() == partial.content
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert answer.text() == new_text
    first_conversation = hearth.transcript.current_id
    messages_in_first = len(window.messages.message_ids())
    assert messages_in_first == 4

    # A second conversation, then back to the first.
    qtbot.mouseClick(window.conversations.new_button, Qt.MouseButton.LeftButton)
    assert window.messages.message_ids() == []
    send(qtbot, hearth, "What is 2 + 2?")
    qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000).wait()
    assert len(hearth.store.list_conversations()) == 2
    items = window.conversations.list
    first_item = next(items.item(i) for i in range(items.count())
                      if items.item(i).data(Qt.ItemDataRole.UserRole) == first_conversation)
    qtbot.mouseClick(items.viewport(), Qt.MouseButton.LeftButton, pos=items.visualItemRect(first_item).center())
    assert hearth.transcript.current_id == first_conversation
    assert len(window.messages.message_ids()) == messages_in_first

    # Quit and relaunch: the history is intact.
    hearth.shutdown()
    relaunched = HearthController()
    qtbot.addWidget(relaunched.window)
    relaunched.start()
    try:
        assert len(relaunched.store.list_conversations()) == 2
        assert relaunched.window.conversations.list.count() == 2
        texts = [w.text() for w in relaunched.window.messages.widgets()]
        assert texts and all(t.strip() for t in texts)
        relaunched.transcript.open(first_conversation)
        assert relaunched.window.messages.widgets()[-1].version_label.text() == "2 / 2"
        assert relaunched.store.integrity_check() == "ok"
    finally:
        relaunched.shutdown()


def test_edit_and_resend_the_last_message(qtbot, hearth):
    """Editing loses nothing until the new words are sent: Esc gives the turn back as it was, and
    the draft the composer held before comes back too."""
    wait_ready(qtbot, hearth)
    send(qtbot, hearth, "Tell me about cats")
    qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000).wait()
    composer = hearth.window.composer
    before = [(m.id, m.content) for m in hearth.store.messages(hearth.transcript.current_id)]
    qtbot.keyClicks(composer.edit, "a half-written thought")

    user_widget = hearth.window.messages.widgets()[0]
    assert user_widget.edit_button.isVisible()
    qtbot.mouseClick(user_widget.edit_button, Qt.MouseButton.LeftButton)
    assert composer.edit.toPlainText() == "Tell me about cats"
    assert composer.edit_bar.isVisible() and user_widget._state_label.text() == "editing…"
    assert [(m.id, m.content) for m in hearth.store.messages(hearth.transcript.current_id)] == before
    assert len(hearth.window.messages.message_ids()) == 2, "the turn stays on screen while it is edited"

    qtbot.keyClick(composer.edit, Qt.Key.Key_Escape)
    assert composer.edit.toPlainText() == "a half-written thought"
    assert not composer.edit_bar.isVisible() and user_widget._state_label.text() == ""
    assert [(m.id, m.content) for m in hearth.store.messages(hearth.transcript.current_id)] == before

    composer.edit.clear()
    qtbot.keyClicks(composer.edit, "a later idea")
    qtbot.mouseClick(user_widget.edit_button, Qt.MouseButton.LeftButton)
    composer.edit.selectAll()
    qtbot.keyClicks(composer.edit, "Tell me about dogs")
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    messages = hearth.store.messages(hearth.transcript.current_id)
    assert [m.content for m in messages][0] == "Tell me about dogs" and len(messages) == 2
    assert messages[0].id == before[0][0], "the question keeps its place (and its images)"
    assert not composer.edit_bar.isVisible()
    assert composer.edit.toPlainText() == "a later idea", "the draft set aside for the edit comes back"
    assert [w.text() for w in hearth.window.messages.widgets()][0] == "Tell me about dogs"
    assert hearth.store.get_conversation(hearth.transcript.current_id).title == "Tell me about dogs", \
        "a title made from the first question follows its edit"


def test_opening_another_chat_gives_up_an_edit(qtbot, hearth):
    store = hearth.store
    first = store.create_conversation(title="First")
    question = store.add_message(first.id, "user", "Keep this question")
    store.add_message(first.id, "assistant", "And this answer")
    second = store.create_conversation(title="Second")
    hearth.refresh_conversations()
    hearth.transcript.open(first.id)
    hearth.transcript.edit(question.id)
    assert hearth.window.composer.edit.toPlainText() == "Keep this question"

    hearth.transcript.open(second.id)
    assert hearth.window.composer.edit.toPlainText() == ""
    assert not hearth.window.composer.edit_bar.isVisible()
    assert [m.content for m in store.messages(first.id)] == ["Keep this question", "And this answer"]


def test_shift_enter_adds_a_line_instead_of_sending(qtbot, hearth):
    edit = hearth.window.composer.edit
    qtbot.keyClicks(edit, "line one")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(edit, "line two")
    assert edit.toPlainText() == "line one\nline two"
    assert hearth.store.list_conversations() == []


def test_ctrl_n_starts_a_new_chat_ready_for_typing_and_it_is_titled_from_the_first_words(qtbot, hearth):
    first = hearth.store.create_conversation(title="Earlier chat")
    hearth.refresh_conversations()
    hearth.transcript.open(first.id)
    hearth.window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is hearth.window)
    qtbot.keyClick(hearth.window.composer.edit, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert hearth.transcript.current_id != first.id, "Ctrl+N did not start a new chat"
    assert hearth.window.composer.edit.hasFocus(), "the new chat is not ready for typing"
    qtbot.keyClick(hearth.window.composer.edit, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert len(hearth.store.list_conversations()) == 2, "a second Ctrl+N stacked another empty chat"

    hearth.answers.send("Please give me three tips for keeping houseplants alive during a cold winter")
    assert hearth.store.get_conversation(hearth.transcript.current_id).title == "Please give me three tips for keeping…"
    hearth.answers.stop()


def gardening_and_cooking(hearth):
    store = hearth.store
    garden = store.create_conversation(title="Gardening")
    store.add_message(garden.id, "user", "How deep should I plant tulip bulbs?")
    soup = store.create_conversation(title="Cooking")
    store.add_message(soup.id, "user", "A recipe for lentil soup, please")
    hearth.refresh_conversations()
    return garden, soup


def search_for(qtbot, hearth, words: str, hits: int = 1):
    qtbot.keyClicks(hearth.window.conversations.search, words)
    results = hearth.window.conversations.results
    qtbot.waitUntil(lambda: results.isVisible() and results.count() == hits, timeout=3000)
    return results


def test_search_finds_messages_across_chats_and_opens_the_right_one(qtbot, hearth):
    a, _ = gardening_and_cooking(hearth)
    results = search_for(qtbot, hearth, "tulip")
    assert "Gardening" in results.item(0).text()
    assert results.item(0).text().endswith("You: How deep should I plant tulip bulbs?")
    qtbot.mouseClick(results.viewport(), Qt.MouseButton.LeftButton, pos=results.visualItemRect(results.item(0)).center())
    assert hearth.transcript.current_id == a.id


def test_delete_a_chat_and_undo_it(qtbot, hearth):
    store = hearth.store
    keep = store.create_conversation(title="Keep me")
    store.add_message(keep.id, "user", "precious words")
    hearth.refresh_conversations()
    hearth._delete(keep.id)
    assert store.list_conversations() == []
    assert hearth.window.undo_button.isVisible()
    qtbot.mouseClick(hearth.window.undo_button, Qt.MouseButton.LeftButton)
    assert [c.title for c in store.list_conversations()] == ["Keep me"]
    assert [w.text() for w in hearth.window.messages.widgets()] == ["precious words"]


def test_a_chat_longer_than_the_context_says_so_and_still_answers(qtbot):
    with running_hearth(qtbot, {"chat/max_tokens": 24, "engine/n_ctx": 512}, show=False) as hearth:
        long_chat = hearth.store.create_conversation(title="Long", system_prompt="Answer briefly.")
        for i in range(30):
            hearth.store.add_message(long_chat.id, "user" if i % 2 == 0 else "assistant", f"Message {i}: " + "words " * 60)
        hearth.refresh_conversations()
        hearth.transcript.open(long_chat.id)
        wait_ready(qtbot, hearth)
        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000) as finished:
            send(qtbot, hearth, "Summarise our chat.")
        note = hearth.window.messages.context_note
        assert not note.isHidden() and "no longer sees" in note.text() and "system prompt is kept" in note.text()
        assert hearth.store.get_message(finished.args[0]).state == "complete"
        assert hearth.store.count_messages(long_chat.id) == 32, "nothing was deleted from the chat"


def test_a_long_chat_opens_at_its_newest_messages_and_scrolling_up_brings_the_earlier_ones(qtbot, hearth):
    from app.gui.transcript_controller import PAGE

    long_chat = hearth.store.create_conversation(title="Years of chat")
    for i in range(100):
        hearth.store.add_message(long_chat.id, "user" if i % 2 == 0 else "assistant", f"Message {i}\n\nwith a second line")
    hearth.window.resize(900, 600)
    hearth.transcript.open(long_chat.id)
    view = hearth.window.messages
    shown = lambda: [w.text().split("\n")[0] for w in view.widgets()]  # noqa: E731
    assert shown() == [f"Message {i}" for i in range(100 - PAGE, 100)]
    assert view.load_earlier_button.isVisible()

    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    bar.setValue(0)  # the reader scrolls to the top
    qtbot.waitUntil(lambda: len(view.message_ids()) == 2 * PAGE)
    assert shown() == [f"Message {i}" for i in range(100 - 2 * PAGE, 100)]
    # The reader stays where they were, with the earlier page above (once it is laid out).
    qtbot.waitUntil(lambda: bar.value() > bar.maximum() // 3)

    qtbot.mouseClick(view.load_earlier_button, Qt.MouseButton.LeftButton)  # the button works too
    assert len(view.message_ids()) == 3 * PAGE
    while view.load_earlier_button.isVisible():  # keep scrolling up to the very first message
        before = len(view.message_ids())
        qtbot.waitUntil(lambda: bar.value() > 40)  # the page that just arrived is laid out above
        bar.setValue(0)
        qtbot.waitUntil(lambda: len(view.message_ids()) > before)
    assert not view.load_earlier_button.isVisible()
    assert shown() == [f"Message {i}" for i in range(100)]


def test_a_chat_gets_its_own_system_prompt_and_temperature_from_its_right_click_menu(qtbot, hearth):
    from PySide6.QtCore import QTimer

    pirates = hearth.store.create_conversation(title="Pirates")
    hearth.refresh_conversations()

    def fill_in() -> None:
        dialog = QApplication.activeModalWidget()
        assert dialog.editor("chat/system_prompt").isVisible()
        dialog.editor("chat/system_prompt").setPlainText("Answer like a pirate.")
        dialog.editor("chat/temperature").setValue(0.2)
        dialog.accept()

    QTimer.singleShot(0, fill_in)
    hearth.window.conversations.settings_requested.emit(pirates.id)  # "Settings…" in the list's menu
    saved = hearth.store.get_conversation(pirates.id)
    assert saved.system_prompt == "Answer like a pirate." and saved.settings["chat/temperature"] == 0.2


def test_right_clicking_another_chat_leaves_the_open_one_marked(qtbot, hearth):
    from PySide6.QtCore import QTimer

    older = hearth.store.create_conversation(title="Older")
    newer = hearth.store.create_conversation(title="Newer")
    hearth.refresh_conversations()
    hearth.transcript.open(newer.id)
    chats = hearth.window.conversations.list
    QTimer.singleShot(50, lambda: QApplication.activePopupWidget().close())  # the reader changes their mind
    older_row = next(chats.item(r) for r in range(chats.count()) if chats.item(r).text() == "Older")
    chats.setCurrentItem(older_row)  # what the right button's press does
    chats.customContextMenuRequested.emit(chats.visualItemRect(older_row).center())

    assert hearth.transcript.current_id == newer.id
    assert chats.currentItem().text() == "Newer"


def test_a_search_hit_reads_as_one_line_with_only_the_searched_word_marked(qtbot, hearth):
    """A hit inside an answer with a code block: no markdown fences, no broken lines, and brackets
    in the code are text, not match marks."""
    store = hearth.store
    chat = store.create_conversation(title="Strings")
    store.add_message(chat.id, "assistant", "Reverse it with **slicing**:\n```python\nprint(s[::-1])\n```\nDone.")
    hearth.refresh_conversations()
    results = search_for(qtbot, hearth, "slicing")
    item = results.item(0)
    assert item.text() == "Strings\nHearth: Reverse it with slicing: python print(s[::-1]) Done."
    marked = [text for text, matched in item.data(HIT_RUNS_ROLE) if matched]
    assert marked == ["slicing"]
    assert results.visualItemRect(item).height() > results.fontMetrics().height() * 2, "title and snippet each get a line"


def test_the_keyboard_finds_opens_and_tidies_chats(qtbot, hearth, monkeypatch):
    """Ctrl+F, type, Enter opens the best hit; Esc clears the search and goes back to writing;
    in the chat list F2 renames and Delete deletes (with undo)."""
    store = hearth.store
    garden, soup = gardening_and_cooking(hearth)
    window, pane = hearth.window, hearth.window.conversations
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)

    window.search_action.trigger()
    assert pane.search.hasFocus()
    qtbot.keyClicks(pane.search, "tulip")
    qtbot.keyClick(pane.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: hearth.transcript.current_id == garden.id, timeout=3000)  # hits arrive from the background
    qtbot.keyClick(pane.search, Qt.Key.Key_Escape)
    assert pane.search.text() == "" and pane.list.isVisible()
    assert window.composer.edit.hasFocus()

    pane.list.setFocus()
    pane.list.setCurrentRow([pane.list.item(r).data(Qt.ItemDataRole.UserRole)
                             for r in range(pane.list.count())].index(soup.id))
    monkeypatch.setattr("ui.conversation_list.QInputDialog.getText", lambda *a, **k: ("Soups", True))
    qtbot.keyClick(pane.list, Qt.Key.Key_F2)
    assert store.get_conversation(soup.id).title == "Soups"
    qtbot.keyClick(pane.list, Qt.Key.Key_Delete)
    assert [c.id for c in store.list_conversations()] == [garden.id]
    assert window.undo_button.isVisible()


def test_the_window_and_an_unsent_message_come_back_after_a_relaunch(qtbot):
    from app.settings import Settings

    with running_hearth(qtbot) as first:
        first.window.resize(700, 500)  # within the offscreen screen (800 x 600): larger is clamped
        first.window.splitter.setSizes([300, 400])
        qtbot.keyClicks(first.window.composer.edit, "half a thought")
        # Saved while typing, not only at quit: a crash keeps it too.
        qtbot.waitUntil(lambda: Settings().state("window/draft") == "half a thought", timeout=3000)
        qtbot.waitUntil(lambda: Settings().state("window/geometry") == first.window.saveGeometry(), timeout=3000)
        size, list_width = first.window.size(), first.window.splitter.sizes()[0]
    with running_hearth(qtbot) as second:
        assert second.window.composer.edit.toPlainText() == "half a thought"
        assert second.window.size() == size
        assert abs(second.window.splitter.sizes()[0] - list_width) <= 2
        second.window.composer.edit.clear()
    with running_hearth(qtbot) as third:
        assert third.window.composer.edit.toPlainText() == ""


def test_new_chat_gives_back_the_empty_chat_instead_of_piling_up_more(qtbot):
    with running_hearth(qtbot) as hearth:
        store, chats = hearth.store, hearth.conversations
        older = store.create_conversation("Soup recipes")
        store.add_message(older.id, "user", "Leek and potato?")
        empty = chats.new_conversation()
        assert chats.new_conversation() == empty, "Ctrl+N twice gives one chat"
        hearth.transcript.open(older.id)
        store.add_message(older.id, "user", "And a cold one for summer?")  # the older chat is the newest again
        assert chats.new_conversation() == empty
        listed = store.list_conversations()
        assert listed[0].id == empty, "the empty chat comes back to the top"
        assert sum(c.title == "New chat" for c in listed) == 1
        assert hearth.window.conversations.list.item(0).data(Qt.ItemDataRole.UserRole) == empty


def queued_texts(hearth) -> list[str]:
    from PySide6.QtWidgets import QLabel

    return [row.findChild(QLabel, "queuedText").text() for row in hearth.queued.rows] if hearth.queued.isVisible() else []


def test_a_question_sent_while_an_answer_streams_waits_in_a_queue_and_goes_next(qtbot, hearth):
    from PySide6.QtWidgets import QPushButton

    wait_ready(qtbot, hearth)
    hearth.settings.set("chat/max_tokens", 120)
    send(qtbot, hearth, "Tell me a long story about a lighthouse keeper and the sea.")
    qtbot.waitUntil(lambda: len(last_widget(hearth).text()) > 10, timeout=60000)
    first_answer = last_widget(hearth).message_id
    send(qtbot, hearth, "Now a short poem about tea.")
    send(qtbot, hearth, "And a joke.")
    assert hearth.window.composer.edit.toPlainText() == "", "the queued words stayed in the composer"
    assert queued_texts(hearth) == ["Now a short poem about tea.", "And a joke."]
    assert last_widget(hearth).message_id == first_answer, "a queued question jumped ahead of the answer"
    remove = [b for b in hearth.queued.rows[1].findChildren(QPushButton) if b.text() == "×"][0]
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    assert queued_texts(hearth) == ["Now a short poem about tea."]

    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=90000):
        pass  # the first answer ends: the queued question goes at once
    qtbot.waitUntil(lambda: any(m.content == "Now a short poem about tea." for m in
                                hearth.store.messages(hearth.transcript.current_id)), timeout=5000)
    assert queued_texts(hearth) == []
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=90000) as second:
        pass
    roles = [(m.role, m.content) for m in hearth.store.messages(hearth.transcript.current_id)]
    assert [r for r, _ in roles] == ["user", "assistant", "user", "assistant"]
    assert roles[2][1] == "Now a short poem about tea." and second.args[0] == hearth.store.messages(
        hearth.transcript.current_id)[-1].id
    assert "And a joke." not in [c for _, c in roles], "a removed question was sent"


def test_stop_leaves_queued_questions_to_send_or_take_back(qtbot, hearth):
    from PySide6.QtWidgets import QPushButton

    wait_ready(qtbot, hearth)
    hearth.settings.set("chat/max_tokens", 200)
    send(qtbot, hearth, "Write a long essay about winter.")
    qtbot.waitUntil(lambda: len(last_widget(hearth).text()) > 10, timeout=60000)
    send(qtbot, hearth, "Summarise it in one line.")
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=30000):
        qtbot.keyClick(hearth.window.composer.edit, Qt.Key.Key_Escape)
    assert queued_texts(hearth) == ["Summarise it in one line."], "Stop dropped or sent the queued question"
    qtbot.wait(300)
    assert not hearth.answers.streaming
    buttons = {b.text(): b for b in hearth.queued.rows[0].findChildren(QPushButton)}
    assert buttons["Send now"].isVisible()
    qtbot.mouseClick(buttons["Edit"], Qt.MouseButton.LeftButton)
    assert queued_texts(hearth) == []
    assert hearth.window.composer.edit.toPlainText() == "Summarise it in one line."
    assert [m.role for m in hearth.store.messages(hearth.transcript.current_id)] == ["user", "assistant"]


def test_with_a_remote_server_the_picker_lists_its_models_and_the_choice_answers(qtbot):
    from tests.support.openai_server import scripted_server

    with scripted_server(["llama-3.1-8b-instruct", "qwen2.5-7b-instruct"]) as server:
        server.replies = ["From the server.", "From Qwen."]
        with running_hearth(qtbot, {"remote/enabled": True, "remote/base_url": server.base_url,
                                    "remote/model": ""}) as hearth:
            picker = hearth.window.model_picker
            qtbot.waitUntil(lambda: hearth.engine.ready and picker.count() == 2, timeout=30000)
            labels = [picker.itemText(i) for i in range(picker.count())]
            assert labels[0].startswith("llama-3.1-8b-instruct") and labels[1].startswith("qwen2.5-7b-instruct")
            assert not any("bundled" in label for label in labels), "the bundled model shown for a remote server"
            assert picker.currentIndex() == 0
            picker.setCurrentIndex(1)
            picker.activated.emit(1)
            qtbot.waitUntil(lambda: hearth.engine.ready and hearth.settings.get("remote/model") == "qwen2.5-7b-instruct",
                            timeout=30000)
            with qtbot.waitSignal(hearth.answers.answer_finished, timeout=30000):
                send(qtbot, hearth, "Hello?")
            assert server.requests[-1]["model"] == "qwen2.5-7b-instruct"
            assert "qwen2.5-7b-instruct" in hearth.window.engine_label.text()
            assert picker.currentText().startswith("qwen2.5-7b-instruct")
