"""A user searches a long chat history: old rare words are found, recent best matches come first,
deleted chats stay hidden, and a search running in the background never holds up a save."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine.store import SNIPPET_CLOSE, SNIPPET_OPEN, Store, StoreCorruptError, StoreError
from engine.store import database

FILLER = ["Could you explain how lighthouses work?", "Sure: a lamp, a lens and a keeper.",
          "What about the weather today?", "It looks like rain over the harbour this afternoon."]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "hearth.sqlite3")  # a real file: search reads through its own connection
    yield s
    s.close()


def add_history(store: Store, messages: int, per_chat: int = 100) -> list[int]:
    """`messages` messages over chats of `per_chat`, through the store's own API; their ids."""
    ids: list[int] = []
    chat = None
    for i in range(messages):
        if i % per_chat == 0:
            chat = store.create_conversation(f"Chat {i // per_chat}")
        ids.append(store.add_message(chat.id, "user" if i % 2 == 0 else "assistant", f"{FILLER[i % 4]} (#{i})").id)
    return ids


def test_a_word_said_once_long_ago_is_found_in_a_long_history(store: Store) -> None:
    first = store.create_conversation("Holiday plans, two years ago")
    old = store.add_message(first.id, "user", "Remind me of the name of that quokka island near Perth.")
    add_history(store, 3000)

    hits = store.search("quokka")

    assert [(h.message_id, h.conversation_title) for h in hits] == [(old.id, "Holiday plans, two years ago")]
    assert f"{SNIPPET_OPEN}quokka{SNIPPET_CLOSE}" in hits[0].snippet
    assert [h.message_id for h in store.search("quokka isl")] == [old.id]  # the last word is a prefix
    assert [h.message_id for h in store.search("island perth")] == [old.id]  # every word, in any order


def test_a_common_word_shows_the_best_of_what_was_said_lately(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "SEARCH_WINDOW", 20)  # rank only the newest 20 matches
    chat = store.create_conversation("Boats")
    oldest_best = store.add_message(chat.id, "user", "boat boat boat")  # the best match, but long ago
    plain = [store.add_message(chat.id, "user", f"a boat trip on the lake, day {i}").id for i in range(30)]
    recent_best = store.add_message(chat.id, "assistant", "boat boat")
    store.add_message(chat.id, "user", "no match here")

    hits = store.search("boat", limit=5)

    # Among the newest 20 matches, the one saying "boat" most comes first, then the newest.
    assert [h.message_id for h in hits] == [recent_best.id, *plain[::-1][:4]]
    # Asking for more results widens the window: with room for all 32, the best of all leads.
    everything = store.search("boat", limit=100)
    assert everything[0].message_id == oldest_best.id
    assert {h.message_id for h in everything} == {oldest_best.id, recent_best.id, *plain}


def test_with_few_matches_the_best_match_comes_first_wherever_it_is(store: Store) -> None:
    chat = store.create_conversation("Kitchen")
    best = store.add_message(chat.id, "user", "risotto risotto: the risotto question")
    add_history(store, 300)
    newer = store.add_message(chat.id, "assistant",
                              "A risotto wants stock added slowly, a ladle at a time, while stirring.")
    newest = store.add_message(chat.id, "user", "And the risotto rice itself, which kind do you recommend for it?")

    assert [h.message_id for h in store.search("risotto")] == [best.id, newest.id, newer.id]


def test_deleted_chats_stay_out_of_the_results_even_when_they_hold_every_recent_match(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "SEARCH_WINDOW", 10)
    kept = store.create_conversation("Kept")
    kept_ids = [store.add_message(kept.id, "user", f"marmalade recipe {i}").id for i in range(3)]
    gone = store.create_conversation("Deleted")
    for i in range(50):  # the 50 newest matches are all in the deleted chat
        store.add_message(gone.id, "user", f"marmalade again {i}")
    store.delete_conversation(gone.id)

    hits = store.search("marmalade")

    assert sorted(h.message_id for h in hits) == kept_ids
    assert {h.conversation_title for h in hits} == {"Kept"}
    store.restore_conversation(gone.id)  # undo brings them back
    assert len(store.search("marmalade")) == 50


def test_a_save_is_not_held_up_by_a_search_in_flight_on_another_thread(store: Store) -> None:
    chat = store.create_conversation("Long chat")
    add_history(store, 500)
    answer = store.add_message(chat.id, "assistant", "Streaming", state="streaming")
    store.search("lighthouses")  # opens search's connection, so the test can hold it mid-query
    inside, release = threading.Event(), threading.Event()

    def hold_the_search() -> int:  # SQLite calls this every 100 instructions of the search's query
        if not inside.is_set():  # the first time: stop mid-query until the saves are done
            inside.set()
            release.wait(10)
        return 0

    store._reader.set_progress_handler(hold_the_search, 100)
    results: list = []
    searcher = threading.Thread(target=lambda: results.append(store.search("lighthouses")))
    searcher.start()
    try:
        assert inside.wait(5), "the search never started"
        started = time.monotonic()
        store.update_message(answer.id, content="Streaming the answer, word by word", state="complete")
        added = store.add_message(chat.id, "user", "lighthouses again, please")
        assert store.get_message(answer.id).state == "complete"
        assert time.monotonic() - started < 2
        assert searcher.is_alive(), "the search was held the whole time the saves ran"
    finally:
        release.set()
        searcher.join(10)
    store._reader.set_progress_handler(None, 0)

    # The search that was in flight saw the history as it was when it began; the next one sees the new message.
    assert len(results) == 1 and added.id not in [h.message_id for h in results[0]]
    assert added.id in [h.message_id for h in store.search("lighthouses")]


def test_a_search_is_not_held_up_by_a_save_in_progress(store: Store) -> None:
    chat = store.create_conversation("Notes")
    saved = store.add_message(chat.id, "user", "the walrus said")
    results: list = []
    with store._transaction("save a long answer") as tx:  # the write lock is held, mid-transaction
        tx.execute("UPDATE messages SET content = 'walrus and carpenter' WHERE id = ?", (saved.id,))
        searcher = threading.Thread(target=lambda: results.append(store.search("carpenter") + store.search("walrus")))
        searcher.start()
        searcher.join(5)
        assert not searcher.is_alive(), "the search waited for the save"
    assert [h.message_id for h in results[0]] == [saved.id]  # only the committed words were seen
    assert [h.message_id for h in store.search("carpenter")] == [saved.id]


def test_closing_the_store_stops_a_search_in_flight(tmp_path: Path) -> None:
    store = Store(tmp_path / "hearth.sqlite3")
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "penguins on the ice")
    store.search("penguins")
    inside = threading.Event()

    def hold_the_search() -> int:
        inside.set()
        time.sleep(0.001)
        return 0

    store._reader.set_progress_handler(hold_the_search, 1)
    errors: list[BaseException] = []

    def search() -> None:
        try:
            while True:
                store.search("penguins")
        except StoreError as error:
            errors.append(error)

    searcher = threading.Thread(target=search)
    searcher.start()
    assert inside.wait(5)
    store.close()
    searcher.join(5)

    assert not searcher.is_alive() and "closed" in str(errors[0])
    assert not (tmp_path / "hearth.sqlite3-wal").exists()  # both connections closed: the WAL was folded in
    with pytest.raises(StoreError, match="closed"):
        store.search("penguins")


def test_a_damaged_search_index_gives_the_damaged_history_message_and_the_rest_keeps_working(tmp_path: Path) -> None:
    store = Store(tmp_path / "hearth.sqlite3")
    chat = store.create_conversation()
    for i in range(50):
        store.add_message(chat.id, "user", f"penguins on the ice {i}")
    store._conn.execute("UPDATE messages_fts_data SET block = x'00ff00ff' WHERE id > 10")  # garbage in the index

    with pytest.raises(StoreCorruptError, match="damaged"):
        store.search("penguins")

    store.add_message(chat.id, "user", "still saving")  # the failed search left nothing open
    assert store.count_messages(chat.id) == 51
    store.close()
    assert not (tmp_path / "hearth.sqlite3-wal").exists()


@pytest.mark.parametrize(
    "query", ['"', "*", "NEAR(", "-penguins", "a AND", "col:penguins", "{a b}", "\ud800", "%_", "^"])
def test_text_with_search_syntax_is_still_searched_as_plain_words(store: Store, query: str) -> None:
    chat = store.create_conversation()
    store.add_message(chat.id, "user", 'penguins "NEAR(me)" - AND col:x {a b} 100%_done')

    store.search(query)  # never raises
    assert len(store.search('"NEAR(me)" -')) == 1
    assert len(store.search("col:penguins")) == 0  # "col:" is a word here, not a column filter
