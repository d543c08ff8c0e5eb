"""Hearth starts on a damaged chat history: it keeps a copy, says so, recovers what it can and works."""
from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest

from engine.store import RecoveryReport, Store, StoreCorruptError
from engine.store import recovery
from engine.store.answer_sources import save_sources, sources_for
from engine.store.assistants import conversation_assistant, create_assistant, start_conversation
from engine.store.records import AnswerSource

PAGE = 4096


@pytest.fixture(params=["with sqlite3 tool", "without sqlite3 tool"])
def sqlite3_tool(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Recovery must work whether or not the `sqlite3` command-line tool is installed."""
    if request.param == "without sqlite3 tool":
        monkeypatch.setattr(recovery, "_sqlite3_cli", lambda: None)
    elif recovery._sqlite3_cli() is None:
        pytest.skip("the sqlite3 command-line tool is not installed here")
    return request.param


def write_history(path: Path, conversations: int = 3, messages_each: int = 120) -> dict[int, str]:
    """A real chat history; returns message id -> content."""
    store = Store(path)
    contents = {}
    for c in range(conversations):
        chat = store.create_conversation(f"Chat {c}", system_prompt="Be kind.", settings={"temperature": 0.5})
        for i in range(messages_each):
            role = "user" if i % 2 == 0 else "assistant"
            message = store.add_message(chat.id, role, f"chat {c} message {i} about lighthouses " + "words " * 30)
            contents[message.id] = message.content
    store.close()  # checkpoints the WAL into the main file
    return contents


def message_pages(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf'")]
    except sqlite3.OperationalError:  # SQLite built without dbstat: guess a page in the middle
        return [os.path.getsize(path) // PAGE // 2]
    finally:
        conn.close()


def spoil_newest_filler(db: Path, seed: int) -> None:
    """A later chat of 200 messages, then garbage over its newest page: damage far from what a test checks."""
    store = Store(db)
    other = store.create_conversation("Filler")
    for i in range(200):
        store.add_message(other.id, "user", f"filler {i} " + "words " * 40)
    store.close()
    victim = message_pages(db)[-1]
    data = bytearray(db.read_bytes())
    data[(victim - 1) * PAGE : victim * PAGE] = random.Random(seed).randbytes(PAGE)
    db.write_bytes(bytes(data))


def assert_copy_kept(report: RecoveryReport, damaged_bytes: bytes, db: Path) -> None:
    assert report.backup_path.parent == db.parent
    assert report.backup_path.name.startswith("hearth.sqlite3.corrupt-")
    assert report.backup_path.read_bytes() == damaged_bytes  # never modified, never discarded
    assert str(report.backup_path) in report.message
    assert "damaged" in report.message


def assert_fresh_store_works(store: Store) -> None:
    assert store.integrity_check() == "ok"
    chat = store.create_conversation("After the accident")
    store.add_message(chat.id, "user", "still working marmalade")
    assert [h.conversation_title for h in store.search("marmalade")] == ["After the accident"]


def test_a_file_of_random_bytes_is_kept_aside_and_a_fresh_history_starts(tmp_path: Path, sqlite3_tool: str) -> None:
    db = tmp_path / "hearth.sqlite3"
    garbage = random.Random(1).randbytes(64 * 1024)
    db.write_bytes(garbage)

    with pytest.raises(StoreCorruptError, match="damaged"):
        Store(db)
    store, report = Store.open_or_recover(db)

    assert report is not None
    assert_copy_kept(report, garbage, db)
    assert (report.recovered_conversations, report.recovered_messages) == (0, 0)
    assert "nothing could be read back" in report.message
    assert store.list_conversations() == []
    assert_fresh_store_works(store)
    store.close()


def test_a_page_of_garbage_costs_only_the_messages_on_that_page(tmp_path: Path, sqlite3_tool: str) -> None:
    db = tmp_path / "hearth.sqlite3"
    contents = write_history(db)
    victim = message_pages(db)[len(message_pages(db)) // 2]
    data = bytearray(db.read_bytes())
    data[(victim - 1) * PAGE : victim * PAGE] = random.Random(2).randbytes(PAGE)
    db.write_bytes(bytes(data))

    store, report = Store.open_or_recover(db)

    assert report is not None
    assert_copy_kept(report, bytes(data), db)
    recovered = {m.id: m for c in store.list_conversations() for m in store.messages(c.id)}
    assert report.recovered_messages == len(recovered)
    assert len(contents) - 40 <= len(recovered) < len(contents)  # one leaf page holds a handful of messages
    assert all(recovered[i].content == contents[i] for i in recovered)  # what came back is exact
    assert report.recovered_conversations == 3
    assert f"recovered 3 conversations with {len(recovered)} messages" in report.message
    assert store.get_conversation(1).settings == {"temperature": 0.5}
    assert len(store.search("lighthouses", limit=1000)) == len(recovered)  # the search index was rebuilt too
    assert_fresh_store_works(store)
    store.close()


def test_a_damaged_first_page_still_gives_back_every_message(tmp_path: Path, sqlite3_tool: str) -> None:
    db = tmp_path / "hearth.sqlite3"
    contents = write_history(db)
    data = bytearray(db.read_bytes())
    data[:PAGE] = bytes(PAGE)

    db.write_bytes(bytes(data))
    store, report = Store.open_or_recover(db)

    assert report is not None
    assert_copy_kept(report, bytes(data), db)
    assert report.recovered_messages == len(contents)
    assert {m.id: m.content for c in store.list_conversations() for m in store.messages(c.id)} == contents
    assert_fresh_store_works(store)
    store.close()


def test_a_truncated_file_gives_back_the_messages_it_still_holds(tmp_path: Path, sqlite3_tool: str) -> None:
    db = tmp_path / "hearth.sqlite3"
    contents = write_history(db)
    pages = sorted(message_pages(db))  # cut in the middle of the messages, wherever the schema put them
    truncated = db.read_bytes()[: (pages[len(pages) // 2] - 1) * PAGE + 1000]
    db.write_bytes(truncated)

    store, report = Store.open_or_recover(db)

    assert report is not None
    assert_copy_kept(report, truncated, db)
    recovered = {m.id: m.content for c in store.list_conversations() for m in store.messages(c.id)}
    assert 0 < report.recovered_messages == len(recovered) < len(contents)
    assert all(contents[i] == text for i, text in recovered.items())
    assert_fresh_store_works(store)
    store.close()


def test_the_wal_and_shm_files_are_kept_with_the_copy(tmp_path: Path, sqlite3_tool: str) -> None:
    db = tmp_path / "hearth.sqlite3"
    garbage = random.Random(3).randbytes(10_000)
    db.write_bytes(garbage)
    Path(f"{db}-wal").write_bytes(b"wal bytes")
    Path(f"{db}-shm").write_bytes(b"shm bytes")

    store, report = Store.open_or_recover(db)

    assert report is not None
    assert Path(f"{report.backup_path}-wal").read_bytes() == b"wal bytes"
    assert Path(f"{report.backup_path}-shm").read_bytes() == b"shm bytes"
    assert_fresh_store_works(store)
    store.close()


def test_a_healthy_history_opens_without_a_report(tmp_path: Path) -> None:
    db = tmp_path / "hearth.sqlite3"
    contents = write_history(db, conversations=1, messages_each=5)

    store, report = Store.open_or_recover(db)

    assert report is None
    assert [m.content for m in store.messages(1)] == list(contents.values())
    assert not list(tmp_path.glob("*.corrupt-*"))
    store.close()


def test_a_missing_history_is_simply_created(tmp_path: Path) -> None:
    store, report = Store.open_or_recover(tmp_path / "hearth.sqlite3")

    assert report is None
    assert_fresh_store_works(store)
    store.close()


def test_two_accidents_in_the_same_second_keep_both_copies(tmp_path: Path) -> None:
    db = tmp_path / "hearth.sqlite3"
    backups = []
    for seed in (4, 5):
        db.write_bytes(random.Random(seed).randbytes(8192))
        store, report = Store.open_or_recover(db)
        store.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        backups.append(report.backup_path)

    assert backups[0] != backups[1]
    assert all(path.exists() for path in backups)


def test_rows_that_sqlite3_recover_could_not_place_are_recognised_by_their_shape(tmp_path: Path) -> None:
    """`.recover` puts rows of a table whose root page is gone into lost_and_found."""
    db = tmp_path / "recovered.sqlite3"
    conn = sqlite3.connect(db)
    columns = ", ".join(f"c{i}" for i in range(14))
    conn.execute(f"CREATE TABLE lost_and_found (rootpgno, pgno, nfield, id, {columns})")
    message = [None, 7, "assistant", "found again", "smollm2", "complete", None, 3, 4, 1.0, 2.0, 3.0, 10.0, 11.0]
    conversation = [None, "Lost chat", "", "{}", 5.0, 6.0, None] + [None] * 7
    index_entry = [7, 42] + [None] * 12
    conn.executemany(
        f"INSERT INTO lost_and_found VALUES (?, ?, ?, ?, {', '.join('?' * 14)})",
        [(4, 20, 14, 42, *message), (2, 21, 7, 7, *conversation), (6, 22, 2, 1, *index_entry)],
    )
    conn.commit()
    conn.close()

    found = list(recovery.read_lost_and_found(db))

    assert [(table, row["id"]) for table, row in found] == [("messages", 42), ("conversations", 7)]
    assert found[0][1]["content"] == "found again" and found[0][1]["conversation_id"] == 7


def test_answers_kept_by_regenerate_come_back_with_their_question(tmp_path: Path, sqlite3_tool: str) -> None:
    db = tmp_path / "hearth.sqlite3"
    store = Store(db)
    chat = store.create_conversation("Birds")
    question = store.add_message(chat.id, "user", "Name a bird.")
    answer = store.add_message(chat.id, "assistant", "An owl.")
    save_sources(store, answer.id, [AnswerSource(1, "/docs/birds.md", "Owls", 0, 9, "Owls hoot.")])
    for text in ("A heron.", "A wren."):
        store.set_aside_answer(answer.id)
        answer = store.add_message(chat.id, "assistant", text)
    store.show_answer_version(answer.id, 2)  # "A heron." on show; owl and wren kept
    store.close()
    spoil_newest_filler(db, seed=3)

    store, report = Store.open_or_recover(db)

    assert report is not None and store.get_message(question.id).content == "Name a bird."
    assert store.get_message(answer.id).content == "A heron."
    assert store.answer_versions(answer.id) == (3, 3)
    assert [store.show_answer_version(answer.id, n).content for n in (1, 2, 3)] == ["An owl.", "A wren.", "A heron."]
    store.show_answer_version(answer.id, 1)
    assert [s.passage for s in sources_for(store, [answer.id])[answer.id]] == ["Owls hoot."]  # the owl's own source
    assert store.integrity_check() == "ok"
    store.close()


def test_tool_calls_thoughts_sources_assistants_and_origins_come_back_too(tmp_path: Path, sqlite3_tool: str) -> None:
    db = tmp_path / "hearth.sqlite3"
    store = Store(db)
    helper = create_assistant(store, "Mathematician", instructions="Show your working.", knowledge=["tables"])
    chat = start_conversation(store, helper.id, title="Sums")
    store.add_message(chat.id, "user", "What is 2**64?")
    answer = store.add_message(chat.id, "assistant", "It is 18446744073709551616.")
    store.save_thinking(answer.id, "Powers of two double each time.", seconds=1.5, tokens=9)
    done = store.add_tool_step(answer.id, round=0, call_id="c1", name="calculator", arguments='{"expression": "2**64"}',
                               preamble="Let me compute. ")
    store.update_tool_step(done.id, state="done", approval="once", result="18446744073709551616", ok=True, elapsed_s=0.01)
    cut = store.add_tool_step(answer.id, round=1, call_id="c2", name="python", arguments='{"code": "1"}')
    store.update_tool_step(cut.id, state="running", approval="chat")
    save_sources(store, answer.id, [AnswerSource(1, "/docs/powers.md", "Powers of two", 10, 40, "2**64 is 18446744073709551616",
                                                 "tables")])
    with store._transaction("mark the origin") as tx:
        tx.execute("UPDATE conversations SET origin = 'chatgpt:abc' WHERE id = ?", (chat.id,))
    store.close()
    spoil_newest_filler(db, seed=4)

    store, report = Store.open_or_recover(db)

    assert report is not None and store.get_message(answer.id).content == "It is 18446744073709551616."
    thought = store.thinking_for([answer.id])[answer.id]
    assert (thought.text, thought.seconds, thought.tokens) == ("Powers of two double each time.", 1.5, 9)
    first, second = store.tool_steps_for([answer.id])[answer.id]
    assert (first.name, first.state, first.approval, first.result, first.preamble) == (
        "calculator", "done", "once", "18446744073709551616", "Let me compute. ")
    assert (second.name, second.state, second.approval) == ("python", "stopped", "chat")  # cut off: stopped
    assert store.conversation_origins([chat.id]) == {chat.id: "chatgpt:abc"}  # importing it again still skips it
    mathematician = conversation_assistant(store, chat.id)
    assert (mathematician.name, mathematician.instructions, mathematician.knowledge) == (
        "Mathematician", "Show your working.", ("tables",))
    [source] = sources_for(store, [answer.id])[answer.id]
    assert (source.number, source.path, source.passage) == (1, "/docs/powers.md", "2**64 is 18446744073709551616")
    assert store.integrity_check() == "ok"
    store.close()
