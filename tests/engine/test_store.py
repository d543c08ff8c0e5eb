"""A user's chats, as the store keeps them: create, talk, page back, search, delete and undo."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.store import (
    SNIPPET_CLOSE,
    SNIPPET_OPEN,
    Attachment,
    Conversation,
    Store,
    StoreError,
)


@pytest.fixture
def store() -> Store:
    s = Store(":memory:")
    yield s
    s.close()


def test_the_file_is_set_up_for_safe_concurrent_use(tmp_path: Path) -> None:
    store = Store(tmp_path / "hearth.sqlite3")
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert store.integrity_check() == "ok"
    store.close()


def test_a_user_starts_a_chat_renames_it_and_changes_its_settings(store: Store) -> None:
    chat = store.create_conversation(system_prompt="You are terse.", settings={"temperature": 0.2})

    assert chat.title == "New chat"
    assert store.get_conversation(chat.id) == chat

    store.rename_conversation(chat.id, "Pasta recipes")
    store.update_conversation(chat.id, settings={"temperature": 0.9, "model": "smollm2"})
    store.update_conversation(chat.id, system_prompt="You are a chef.")

    saved = store.get_conversation(chat.id)
    assert isinstance(saved, Conversation)
    assert saved.title == "Pasta recipes"
    assert saved.system_prompt == "You are a chef."
    assert saved.settings == {"temperature": 0.9, "model": "smollm2"}
    assert store.get_conversation(9999) is None


def test_the_chat_list_shows_the_most_recently_active_chat_first(store: Store) -> None:
    first = store.create_conversation("First")
    second = store.create_conversation("Second")
    third = store.create_conversation("Third")
    assert [c.title for c in store.list_conversations()] == ["Third", "Second", "First"]

    store.add_message(first.id, "user", "back to the first one")

    assert [c.id for c in store.list_conversations()] == [first.id, third.id, second.id]


def test_deleting_a_chat_hides_it_until_undo_and_purge_removes_it_for_good(store: Store) -> None:
    keep = store.create_conversation("Keep")
    oops = store.create_conversation("Oops")
    message = store.add_message(oops.id, "user", "a unique zanzibar word")
    store.add_attachment(message.id, sha256="a" * 64, mime="image/png", path="aa/a.png", width=1, height=1, size=10)

    store.delete_conversation(oops.id)
    assert [c.id for c in store.list_conversations()] == [keep.id]
    assert store.get_conversation(oops.id) is None
    assert store.search("zanzibar") == []

    store.restore_conversation(oops.id)
    assert {c.id for c in store.list_conversations()} == {keep.id, oops.id}
    assert [hit.message_id for hit in store.search("zanzibar")] == [message.id]

    store.delete_conversation(oops.id)
    assert store.purge_deleted() == 1
    store.restore_conversation(oops.id)  # too late: nothing comes back
    assert [c.id for c in store.list_conversations()] == [keep.id]
    assert store.get_message(message.id) is None
    assert store.attachments(message.id) == []
    assert store.attachment_paths_in_use() == set()
    assert store.search("zanzibar") == []
    assert store.purge_deleted() == 0


def test_messages_come_back_in_the_order_they_were_written(store: Store) -> None:
    chat = store.create_conversation()
    roles = ["system", "user", "assistant", "user", "assistant"]
    written = [store.add_message(chat.id, role, f"turn {i}", model="smollm2" if role == "assistant" else None)
               for i, role in enumerate(roles)]

    read = store.messages(chat.id)

    assert read == written
    assert [m.role for m in read] == roles
    assert store.count_messages(chat.id) == 5
    assert store.get_message(written[2].id) == written[2]


def test_a_long_chat_is_paged_back_from_the_newest_messages(store: Store) -> None:
    chat = store.create_conversation()
    other = store.create_conversation()
    ids = []
    for i in range(25):
        ids.append(store.add_message(chat.id, "user", f"m{i}").id)
        store.add_message(other.id, "user", "noise")

    newest = store.messages(chat.id, limit=10)
    older = store.messages(chat.id, limit=10, before_id=newest[0].id)
    oldest = store.messages(chat.id, limit=10, before_id=older[0].id)

    assert [m.id for m in newest] == ids[15:]
    assert [m.id for m in older] == ids[5:15]
    assert [m.id for m in oldest] == ids[:5]
    assert store.messages(chat.id, limit=10, before_id=oldest[0].id) == []
    assert [m.id for m in store.messages(chat.id, before_id=ids[3])] == ids[:3]


def test_an_answer_streams_in_and_ends_with_its_timings(store: Store) -> None:
    chat = store.create_conversation()
    answer = store.add_message(chat.id, "assistant", "", state="streaming", model="smollm2")

    store.update_message(answer.id, content="Hel")
    store.update_message(answer.id, content="Hello there")
    store.update_message(
        answer.id, state="complete", prompt_tokens=12, completion_tokens=3,
        prompt_ms=40.5, decode_ms=120.0, tokens_per_second=25.0,
    )

    saved = store.get_message(answer.id)
    assert saved is not None
    assert (saved.content, saved.state, saved.model) == ("Hello there", "complete", "smollm2")
    assert (saved.prompt_tokens, saved.completion_tokens) == (12, 3)
    assert (saved.prompt_ms, saved.decode_ms, saved.tokens_per_second) == (40.5, 120.0, 25.0)
    assert saved.updated_at >= saved.created_at
    assert [hit.message_id for hit in store.search("hello")] == [answer.id]


def test_a_failed_answer_keeps_its_error(store: Store) -> None:
    chat = store.create_conversation()
    answer = store.add_message(chat.id, "assistant", "partial", state="streaming")

    store.update_message(answer.id, state="error", error="The engine stopped unexpectedly.")

    saved = store.get_message(answer.id)
    assert saved is not None and (saved.state, saved.error) == ("error", "The engine stopped unexpectedly.")


def test_an_answer_cut_off_by_a_crash_is_marked_interrupted_on_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "hearth.sqlite3"
    store = Store(path)
    chat = store.create_conversation()
    question = store.add_message(chat.id, "user", "Tell me a story")
    answer = store.add_message(chat.id, "assistant", "Once upon a", state="streaming")
    store._conn.close()  # the app dies without closing the store properly

    reopened = Store(path)

    saved = reopened.get_message(answer.id)
    assert saved is not None and (saved.state, saved.content) == ("interrupted", "Once upon a")
    assert reopened.get_message(question.id).state == "complete"
    reopened.close()


def test_edit_and_resend_drops_the_edited_message_and_everything_after_it(store: Store) -> None:
    chat = store.create_conversation()
    other = store.create_conversation()
    kept = [store.add_message(chat.id, "user", "q1"), store.add_message(chat.id, "assistant", "a1")]
    edited = store.add_message(chat.id, "user", "q2 with a typo")
    store.add_message(chat.id, "assistant", "a2")
    elsewhere = store.add_message(other.id, "user", "unrelated")

    store.delete_messages_from(chat.id, edited.id)
    resent = store.add_message(chat.id, "user", "q2 fixed")

    assert [m.content for m in store.messages(chat.id)] == ["q1", "a1", "q2 fixed"]
    assert resent.id > edited.id  # ids are never reused, so a stale reference never hits a new message
    assert store.messages(chat.id)[:2] == kept
    assert store.get_message(elsewhere.id) == elsewhere
    assert store.search("typo") == []


def test_an_edited_question_keeps_its_images_and_drops_only_what_came_after(store: Store) -> None:
    chat = store.create_conversation()
    other = store.create_conversation()
    store.add_message(chat.id, "user", "q1")
    store.add_message(chat.id, "assistant", "a1")
    question = store.add_message(chat.id, "user", "What is in this photo, plase?")
    photo = store.add_attachment(question.id, sha256="2" * 64, mime="image/png", path="22/p.png",
                                 width=4, height=4, size=40)
    store.add_message(chat.id, "assistant", "a2")
    elsewhere = store.add_message(other.id, "user", "unrelated")

    rewritten = store.rewrite_message(question.id, "What is in this photo, please?")

    assert rewritten.id == question.id and rewritten.content == "What is in this photo, please?"
    assert [m.content for m in store.messages(chat.id)] == ["q1", "a1", "What is in this photo, please?"]
    assert store.attachments(question.id) == [photo]
    assert store.get_message(elsewhere.id) == elsewhere
    assert store.search("plase") == [] and [h.message_id for h in store.search("please")] == [question.id]
    with pytest.raises(StoreError):
        store.rewrite_message(10_000, "gone")


def test_deleting_one_message(store: Store) -> None:
    chat = store.create_conversation()
    a = store.add_message(chat.id, "user", "keep me")
    b = store.add_message(chat.id, "user", "drop me")

    store.delete_message(b.id)

    assert store.messages(chat.id) == [a]
    assert store.search("drop") == []


def test_search_finds_words_across_chats_with_the_match_marked_in_plain_text(store: Store) -> None:
    cooking = store.create_conversation("Cooking")
    travel = store.create_conversation("Travel")
    store.add_message(cooking.id, "user", "How long should I boil fresh tagliatelle?")
    hit_travel = store.add_message(travel.id, "assistant", "Trains in Italy are cheap; Bologna has great tagliatelle.")
    store.add_message(travel.id, "user", "Nothing relevant here.")

    hits = store.search("tagliatelle")
    assert {(h.conversation_title, h.role) for h in hits} == {("Cooking", "user"), ("Travel", "assistant")}
    for hit in hits:
        assert f"{SNIPPET_OPEN}tagliatelle{SNIPPET_CLOSE}" in hit.snippet
        assert "<b>" not in hit.snippet

    assert [h.message_id for h in store.search("bolog")] == [hit_travel.id]  # the last word is a prefix
    assert [h.message_id for h in store.search("italy tagliatelle")] == [hit_travel.id]  # every word must match
    assert store.search("tagliatelle spaghetti") == []
    assert store.search("   ") == []
    assert len(store.search("tagliatelle", limit=1)) == 1


@pytest.mark.parametrize(
    "query",
    ['"', '""', "*", "tagliatelle*", "NEAR(", "NEAR(a b", "-tagliatelle", "a AND", "OR", "NOT x", "(", ")", "^",
     "col:tagliatelle", "content:x", "{a b}", "'", "\\", "+", "a\x00b", "\ud800", "🙂", "café", "%_"],
)
def test_search_treats_hostile_text_as_plain_words(store: Store, query: str) -> None:
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "tagliatelle near a café 🙂")

    store.search(query)  # must not raise


def test_search_finds_text_with_fts_punctuation_as_plain_words(store: Store) -> None:
    chat = store.create_conversation()
    message = store.add_message(chat.id, "user", 'He said "NEAR(me)" - not OR AND')

    assert [h.message_id for h in store.search('"NEAR(me)"')] == [message.id]
    assert [h.message_id for h in store.search("not OR AND")] == [message.id]
    assert [h.message_id for h in store.search("-")] == []



@given(query=st.text(), limit=st.integers(min_value=-5, max_value=100))
def test_any_text_typed_into_search_never_raises(query: str, limit: int) -> None:
    store = _fuzz_store()
    hits = store.search(query, limit=limit)
    assert len(hits) <= max(limit, 0)


_FUZZ_STORE: Store | None = None


def _fuzz_store() -> Store:
    global _FUZZ_STORE
    if _FUZZ_STORE is None:
        _FUZZ_STORE = Store(":memory:")
        chat = _FUZZ_STORE.create_conversation("Fuzz")
        for text in ["hello world", "NEAR AND OR NOT", 'quotes " and * stars', "ünïcödé 日本語 text", "a-b c_d e.f"]:
            _FUZZ_STORE.add_message(chat.id, "user", text)
    return _FUZZ_STORE


@given(content=st.text())

def test_any_text_can_be_saved_and_read_back(content: str) -> None:
    store = _fuzz_store()
    chat_id = store.list_conversations()[0].id
    message = store.add_message(chat_id, "assistant", content)
    expected = content.encode("utf-8", "replace").decode("utf-8")
    assert store.get_message(message.id).content == expected
    store.delete_message(message.id)


def test_an_image_attachment_is_kept_with_its_message(store: Store) -> None:
    chat = store.create_conversation()
    first = store.add_message(chat.id, "user", "What is in this photo?")
    second = store.add_message(chat.id, "user", "And these two?")
    lone = store.add_message(chat.id, "assistant", "A cat.")

    photo = store.add_attachment(first.id, sha256="1" * 64, mime="image/jpeg", path="11/photo.jpg",
                                 width=640, height=480, size=51234)
    a = store.add_attachment(second.id, sha256="2" * 64, mime="image/png", path="22/a.png", width=32, height=32, size=99)
    b = store.add_attachment(second.id, sha256="1" * 64, mime="image/jpeg", path="11/photo.jpg",
                             width=640, height=480, size=51234)

    assert store.attachments(first.id) == [photo]
    assert photo == Attachment(photo.id, first.id, "1" * 64, "image/jpeg", "11/photo.jpg", 640, 480, 51234)
    assert store.attachments_for([first.id, second.id, lone.id]) == {first.id: [photo], second.id: [a, b], lone.id: []}
    assert store.attachment_paths_in_use() == {"11/photo.jpg", "22/a.png"}

    store.delete_message(first.id)
    assert store.attachment_paths_in_use() == {"11/photo.jpg", "22/a.png"}  # still used by the second message
    store.delete_message(second.id)
    assert store.attachment_paths_in_use() == set()


def test_attachments_for_many_messages_at_once(store: Store) -> None:
    chat = store.create_conversation()
    ids = [store.add_message(chat.id, "user", str(i)).id for i in range(1200)]

    result = store.attachments_for(ids)

    assert set(result) == set(ids) and all(v == [] for v in result.values())


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.png", "a/../../b.png", "C:\\x.png", "\\\\server\\x.png", ""])
def test_an_attachment_path_must_stay_inside_the_attachments_folder(store: Store, path: str) -> None:
    chat = store.create_conversation()
    message = store.add_message(chat.id, "user", "hi")

    with pytest.raises(StoreError, match="relative to the attachments folder"):
        store.add_attachment(message.id, sha256="0" * 64, mime="image/png", path=path, width=1, height=1, size=1)


def test_mistakes_get_a_clear_message(store: Store) -> None:
    chat = store.create_conversation()
    with pytest.raises(StoreError, match="role"):
        store.add_message(chat.id, "robot", "beep")
    with pytest.raises(StoreError, match="state"):
        store.add_message(chat.id, "user", "hi", state="done")
    with pytest.raises(StoreError, match="no longer exists"):
        store.add_message(12345, "user", "hi")
    with pytest.raises(StoreError, match="no longer exists"):
        store.add_attachment(12345, sha256="0", mime="image/png", path="x.png", width=1, height=1, size=1)
    with pytest.raises(StoreError, match="settings"):
        store.create_conversation(settings={"bad": object()})
    store.update_message(98765, content="a late save for a message the user deleted")  # ignored, not an error
    assert store.count_messages(chat.id) == 0


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "hearth.sqlite3")
    store.close()
    store.close()  # twice is fine

    with pytest.raises(StoreError, match="closed"):
        store.list_conversations()


def test_a_second_copy_of_hearth_holding_a_write_lock_gets_a_clear_message(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "hearth.sqlite3"
    store = Store(path)
    chat = store.create_conversation()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    store._conn.execute("PRAGMA busy_timeout = 50")

    with pytest.raises(StoreError, match="in use by another program"):
        store.add_message(chat.id, "user", "hello")

    other.execute("ROLLBACK")
    other.close()
    store.add_message(chat.id, "user", "hello")  # usable again once the other writer is gone
    assert store.count_messages(chat.id) == 1
    store.close()


def test_the_gui_and_a_generation_worker_can_write_at_the_same_time(tmp_path: Path) -> None:
    store = Store(tmp_path / "hearth.sqlite3")
    chat = store.create_conversation()
    answer = store.add_message(chat.id, "assistant", "", state="streaming")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for i in range(200):
                store.update_message(answer.id, content="x" * i)
            store.update_message(answer.id, state="complete")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    for i in range(200):
        store.add_message(chat.id, "user", f"gui {i}")
        store.list_conversations()
    thread.join()

    assert errors == []
    assert store.count_messages(chat.id) == 201
    assert store.get_message(answer.id).content == "x" * 199
    assert store.integrity_check() == "ok"
    store.close()
