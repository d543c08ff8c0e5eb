"""Regenerate never throws an answer away: the earlier ones stay with their question, and the
user can put any of them back."""
from __future__ import annotations

import pytest

from engine.store import Store, StoreError


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "chats.db") as opened:
        yield opened


def ask(store: Store, conversation: int, question: str, answer: str, **fields) -> tuple[int, int]:
    q = store.add_message(conversation, "user", question)
    a = store.add_message(conversation, "assistant", answer)
    if fields:
        store.update_message(a.id, **fields)
    return q.id, a.id


def regenerate(store: Store, answer_id: int, new_text: str) -> int:
    conversation = store.get_message(answer_id).conversation_id
    store.set_aside_answer(answer_id)
    return store.add_message(conversation, "assistant", new_text).id


def test_regenerated_answers_are_kept_and_any_can_be_shown_again(store):
    chat = store.create_conversation().id
    _, first = ask(store, chat, "Name a bird.", "An owl.", completion_tokens=3, tokens_per_second=40.0)
    assert store.answer_versions(first) == (1, 1)

    second = regenerate(store, first, "A heron.")
    third = regenerate(store, second, "A wren.")
    assert store.answer_versions(third) == (3, 3)
    assert [m.content for m in store.messages(chat)] == ["Name a bird.", "A wren."]

    shown = store.show_answer_version(third, 1)
    assert shown.id == third and shown.content == "An owl."
    assert shown.completion_tokens == 3 and shown.tokens_per_second == 40.0, "its figures come back with it"
    assert store.answer_versions(third) == (1, 3)
    assert [m.content for m in store.messages(chat)] == ["Name a bird.", "An owl."]

    assert store.show_answer_version(third, 3).content == "A wren."
    assert store.show_answer_version(third, 2).content == "A heron."
    assert store.answer_versions(third) == (2, 3)


def test_regenerating_a_shown_earlier_version_adds_a_new_last_one(store):
    chat = store.create_conversation().id
    _, first = ask(store, chat, "Name a fish.", "A carp.")
    second = regenerate(store, first, "A pike.")
    store.show_answer_version(second, 1)
    third = regenerate(store, second, "A trout.")
    assert store.answer_versions(third) == (3, 3)
    assert [store.show_answer_version(third, n).content for n in (1, 2, 3)] == ["A carp.", "A pike.", "A trout."]


def test_search_and_the_conversation_see_only_the_answer_on_show(store):
    chat = store.create_conversation().id
    _, first = ask(store, chat, "Colour?", "Vermilion.")
    second = regenerate(store, first, "Turquoise.")
    assert [hit.message_id for hit in store.search("turquoise")] == [second]
    assert store.search("vermilion") == []
    store.show_answer_version(second, 1)
    assert [hit.message_id for hit in store.search("vermilion")] == [second]
    assert store.search("turquoise") == []


def test_an_empty_failed_answer_is_not_kept_as_a_version(store):
    chat = store.create_conversation().id
    _, failed = ask(store, chat, "Hello?", "", state="error", error="The engine stopped.")
    retried = regenerate(store, failed, "Hello!")
    assert store.answer_versions(retried) == (1, 1)


def test_an_edited_question_drops_the_answers_to_its_old_words(store):
    chat = store.create_conversation().id
    question, first = ask(store, chat, "Name a tree.", "An oak.")
    regenerate(store, first, "A birch.")
    store.rewrite_message(question, "Name a flower.")
    answer = store.add_message(chat, "assistant", "A rose.").id
    assert store.answer_versions(answer) == (1, 1)


def test_versions_survive_a_reopen_and_go_with_a_purged_chat(tmp_path):
    path = tmp_path / "chats.db"
    with Store(path) as store:
        chat = store.create_conversation().id
        _, first = ask(store, chat, "Name a stone.", "Granite.")
        second = regenerate(store, first, "Basalt.")
    with Store(path) as store:
        assert store.answer_versions(second) == (2, 2)
        assert store.show_answer_version(second, 1).content == "Granite."
        store.delete_messages_from(chat, store.messages(chat)[0].id)
        assert store._conn.execute("SELECT count(*) FROM answer_versions").fetchone()[0] == 0
        assert store.integrity_check() == "ok"


def test_asking_for_a_version_that_does_not_exist_says_so(store):
    chat = store.create_conversation().id
    _, first = ask(store, chat, "Hi", "Hello.")
    with pytest.raises(StoreError, match="no version 2"):
        store.show_answer_version(first, 2)
    store.delete_message(first)
    with pytest.raises(StoreError, match="no longer exists"):
        store.show_answer_version(first, 1)


def test_a_version_missing_from_the_middle_is_refused_and_nothing_changes(store):
    chat = store.create_conversation().id
    _, answer = ask(store, chat, "Hi", "Hello.")
    for text in ("Hey.", "Greetings.", "Howdy."):
        answer = regenerate(store, answer, text)
    store._conn.execute("UPDATE answer_versions SET number = 5 WHERE number = 3")  # a damaged file's gap
    assert store.answer_versions(answer) == (3, 4)
    with pytest.raises(StoreError, match="no version 4"):
        store.show_answer_version(answer, 4)
    assert store.get_message(answer).content == "Howdy."


def test_each_version_keeps_the_sources_it_cited(store):
    from engine.store.answer_sources import save_sources, sources_for
    from engine.store.records import AnswerSource

    chat = store.create_conversation("Ferry").id
    _, first = ask(store, chat, "When does the ferry leave?", "At 7:40 [1].")
    save_sources(store, first, [AnswerSource(1, "/docs/timetable.md", "Ferry", 0, 20, "The ferry leaves at 7:40.")])
    second = regenerate(store, first, "At 7:40, from pier 3 [1][2].")
    save_sources(store, second, [AnswerSource(1, "/docs/timetable.md", "Ferry", 0, 20, "The ferry leaves at 7:40."),
                                 AnswerSource(2, "/docs/harbour.md", "Piers", 5, 30, "Ferries use pier 3.")])

    store.show_answer_version(second, 1)
    assert [s.path for s in sources_for(store, [second])[second]] == ["/docs/timetable.md"]
    store.show_answer_version(second, 2)
    shown = sources_for(store, [second])[second]
    assert [(s.number, s.path, s.passage) for s in shown] == [
        (1, "/docs/timetable.md", "The ferry leaves at 7:40."), (2, "/docs/harbour.md", "Ferries use pier 3.")]
    third = regenerate(store, second, "It leaves at dawn.")  # an answer without sources
    assert sources_for(store, [third]) == {}
    store.show_answer_version(third, 2)
    assert len(sources_for(store, [third])[third]) == 2
