"""Assistants in the chat history: a user makes one, edits, duplicates, deletes it and takes the
delete back, starts chats with it, and carries it to another computer as a small JSON file. An
older history gains assistants when it opens; a damaged or foreign file imports nothing."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from engine.chat.answer import SamplingDefaults, sampling_for, think_for, tool_names_for
from engine.chat.think_budget import ThinkLevel
from engine.store import Store, StoreError, latest_version, migrate, schema_version
from engine.store.answer_sources import save_sources, sources_for
from engine.store.assistants import (
    FILE_FORMAT,
    FILE_VERSION,
    assistant_names,
    conversation_assistant,
    create_assistant,
    delete_assistant,
    duplicate_assistant,
    export_assistant,
    find_assistant,
    get_assistant,
    import_assistant,
    list_assistants,
    purge_deleted_assistants,
    require_assistant,
    restore_assistant,
    set_conversation_assistant,
    start_conversation,
    update_assistant,
)
from engine.store.records import AnswerSource, AssistantFileError

WRITER = dict(instructions="You edit prose. Keep the author's voice.", model="/models/writer.gguf",
              temperature=0.3, top_p=0.9, max_tokens=800, tools=("calculator",), think="short",
              knowledge=("style guide", "drafts"))


@pytest.fixture
def store():
    with Store(":memory:") as opened:
        yield opened


def settings_of(assistant) -> dict:
    return {key: getattr(assistant, key) for key in ("instructions", "model", "temperature", "top_p", "max_tokens",
                                                     "tools", "think", "knowledge")}


# -- the schema ------------------------------------------------------------------------------
def test_a_new_history_has_assistants_a_chat_link_and_answer_sources() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)

    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert {"assistants", "answer_sources"} <= tables
    assert "assistant_id" in {row[1] for row in conn.execute("PRAGMA table_info(conversations)")}
    assert schema_version(conn) == latest_version() >= 9


def test_a_history_saved_at_version_8_opens_with_its_chats_plain_and_takes_assistants(tmp_path: Path) -> None:
    path = tmp_path / "hearth.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    migrate(old, target=8)
    old.execute("INSERT INTO conversations (id, title, system_prompt, created_at, updated_at) "
                "VALUES (1, 'Old chat', 'Be brief.', 1.0, 2.0)")
    old.execute("INSERT INTO messages (conversation_id, role, content, created_at, updated_at) "
                "VALUES (1, 'user', 'What is a haiku?', 1.0, 1.0)")
    old.close()

    with Store(path) as store:
        assert schema_version(store._conn) == latest_version()
        [chat] = store.list_conversations()
        assert (chat.title, chat.system_prompt) == ("Old chat", "Be brief.")
        assert conversation_assistant(store, chat.id) is None and assistant_names(store, [chat.id]) == {}

        poet = create_assistant(store, "Poet", instructions="Answer in verse.")
        set_conversation_assistant(store, chat.id, poet.id)
        assert assistant_names(store, [chat.id]) == {chat.id: "Poet"}
        assert store.integrity_check() == "ok"


# -- making and changing them ----------------------------------------------------------------
def test_an_assistant_is_saved_with_every_setting_and_found_by_name_in_any_case(store) -> None:
    writer = create_assistant(store, "  Writer  ", **WRITER)

    assert writer.name == "Writer" and settings_of(writer) == WRITER
    assert get_assistant(store, writer.id) == writer
    assert find_assistant(store, "wRiTeR") == writer
    assert require_assistant(store, "writer").id == writer.id
    with pytest.raises(StoreError, match="no assistant named 'Nobody'"):
        require_assistant(store, "Nobody")

    plain = create_assistant(store, "Helper")
    assert (plain.instructions, plain.model, plain.temperature, plain.tools, plain.think, plain.knowledge) == (
        "", "", None, None, "", ())
    assert [a.name for a in list_assistants(store)] == ["Helper", "Writer"]


@pytest.mark.parametrize("fields, says", [
    ({"name": "  "}, "needs a name"),
    ({"name": "x" * 101}, "at most 100 characters"),
    ({"temperature": 3}, "'temperature' must be a number from 0 to 2"),
    ({"top_p": 0}, "'top_p' must be a number above 0 and at most 1"),
    ({"max_tokens": 0}, "'max_tokens' must be a whole number"),
    ({"max_tokens": 1.5}, "'max_tokens' must be a whole number"),
    ({"think": "forever"}, "'think' must be off, short, long or unlimited"),
    ({"tools": "calculator"}, "'tools' must be a list of names"),
    ({"knowledge": ["a,b"]}, "without commas"),
])
def test_a_bad_setting_is_refused_with_a_reason_and_nothing_is_saved(store, fields, says) -> None:
    with pytest.raises(StoreError, match=says):
        create_assistant(store, **{"name": "Writer", **fields})
    assert list_assistants(store) == []


def test_editing_changes_only_what_is_given_and_none_gives_back_the_default(store) -> None:
    writer = create_assistant(store, "Writer", **WRITER)
    create_assistant(store, "Critic")

    edited = update_assistant(store, writer.id, instructions="Cut every adverb.", temperature=None, tools=())

    assert (edited.instructions, edited.temperature, edited.tools) == ("Cut every adverb.", None, ())
    assert (edited.top_p, edited.knowledge, edited.created_at) == (0.9, WRITER["knowledge"], writer.created_at)
    assert edited.updated_at >= writer.updated_at
    assert get_assistant(store, writer.id) == edited
    with pytest.raises(StoreError, match="already an assistant named 'critic'"):
        update_assistant(store, writer.id, name="critic")
    assert update_assistant(store, writer.id, name="WRITER").name == "WRITER"  # its own name, in other case
    with pytest.raises(TypeError):
        update_assistant(store, writer.id, colour="blue")


def test_two_assistants_cannot_share_a_name(store) -> None:
    create_assistant(store, "Writer")
    with pytest.raises(StoreError, match="already an assistant named 'writer'"):
        create_assistant(store, "writer")


def test_duplicating_copies_every_setting_under_a_copy_name(store) -> None:
    writer = create_assistant(store, "Writer", **WRITER)

    first, second = duplicate_assistant(store, writer.id), duplicate_assistant(store, writer.id)

    assert (first.name, second.name) == ("Writer (copy)", "Writer (copy 2)")
    assert settings_of(first) == settings_of(second) == WRITER
    assert len({writer.id, first.id, second.id}) == 3


# -- delete and undo -------------------------------------------------------------------------
def test_delete_hides_the_assistant_and_its_chats_answer_plainly_until_undo_brings_both_back(store) -> None:
    writer = create_assistant(store, "Writer", **WRITER)
    chat = start_conversation(store, writer.id, title="Chapter one", system_prompt="British spelling.")
    plain = store.create_conversation("Plain chat")
    assert conversation_assistant(store, chat.id) == writer
    assert assistant_names(store, [chat.id, plain.id]) == {chat.id: "Writer"}

    delete_assistant(store, writer.id)

    assert list_assistants(store) == [] and find_assistant(store, "Writer") is None
    assert conversation_assistant(store, chat.id) is None and assistant_names(store, [chat.id]) == {}
    with pytest.raises(StoreError, match="no longer exists"):
        start_conversation(store, writer.id)

    restored = restore_assistant(store, writer.id)

    assert restored == get_assistant(store, writer.id) and restored.name == "Writer"
    assert conversation_assistant(store, chat.id) == restored
    assert store.get_conversation(chat.id).system_prompt == "British spelling."


def test_a_deleted_name_is_free_and_undo_then_renames_the_old_one(store) -> None:
    old = create_assistant(store, "Writer", instructions="old")
    delete_assistant(store, old.id)
    new = create_assistant(store, "Writer", instructions="new")

    restored = restore_assistant(store, old.id)

    assert (restored.name, restored.instructions) == ("Writer (2)", "old")
    assert [(a.name, a.instructions) for a in list_assistants(store)] == [("Writer", "new"), ("Writer (2)", "old")]
    assert new.id != old.id


def test_purging_deletes_for_good_and_the_chats_stay_as_plain_chats(store) -> None:
    writer = create_assistant(store, "Writer")
    keeper = create_assistant(store, "Keeper")
    chat = start_conversation(store, writer.id)
    store.add_message(chat.id, "user", "Hello")
    delete_assistant(store, writer.id)
    delete_assistant(store, keeper.id)

    assert purge_deleted_assistants(store, [writer.id]) == 1

    assert [m.content for m in store.messages(chat.id)] == ["Hello"]
    assert store._conn.execute("SELECT assistant_id FROM conversations WHERE id = ?", (chat.id,)).fetchone() == (None,)
    with pytest.raises(StoreError, match="deleted for good"):
        restore_assistant(store, writer.id)
    assert restore_assistant(store, keeper.id).name == "Keeper"  # not named: not purged
    assert purge_deleted_assistants(store) == 0


# -- the file --------------------------------------------------------------------------------
def test_export_then_import_on_another_computer_gives_the_same_assistant(store, tmp_path) -> None:
    writer = create_assistant(store, "Writer", **WRITER)
    out = export_assistant(store, writer.id, tmp_path / "out" / "writer.json")

    document = json.loads(out.read_text(encoding="utf-8"))
    assert (document["format"], document["version"], document["name"]) == (FILE_FORMAT, FILE_VERSION, "Writer")
    assert document["tools"] == ["calculator"] and document["knowledge"] == ["style guide", "drafts"]
    assert "id" not in document and "created_at" not in document

    with Store(":memory:") as elsewhere:
        imported = import_assistant(elsewhere, out)
        assert imported.name == "Writer" and settings_of(imported) == WRITER
        assert list_assistants(elsewhere) == [imported]

    again = import_assistant(store, out)   # the same history: the name is taken
    renamed = import_assistant(store, out, name="Editor")
    assert (again.name, renamed.name) == ("Writer (2)", "Editor")
    assert settings_of(again) == settings_of(renamed) == WRITER


def test_default_tools_travel_as_null_and_no_tools_as_an_empty_list(store, tmp_path) -> None:
    default = create_assistant(store, "Default tools")
    none = create_assistant(store, "No tools", tools=[])
    for assistant in (default, none):
        export_assistant(store, assistant.id, tmp_path / f"{assistant.id}.json")
    assert json.loads((tmp_path / f"{default.id}.json").read_text())["tools"] is None
    assert json.loads((tmp_path / f"{none.id}.json").read_text())["tools"] == []
    with Store(":memory:") as elsewhere:
        assert import_assistant(elsewhere, tmp_path / f"{default.id}.json").tools is None
        assert import_assistant(elsewhere, tmp_path / f"{none.id}.json").tools == ()


GOOD = {"format": FILE_FORMAT, "version": 1, "name": "Writer", "instructions": "Edit."}


@pytest.mark.parametrize("content, says", [
    (b"{not json", "is not a Hearth assistant file (not JSON"),
    (b"\xff\xfe\x00garbage", "is not a Hearth assistant file (it is not text)"),
    (json.dumps([GOOD]).encode(), 'no "format": "hearth-assistant"'),
    (json.dumps({**GOOD, "format": "hearth-chats"}).encode(), 'no "format": "hearth-assistant"'),
    (json.dumps({**GOOD, "version": 2}).encode(), "written by a newer Hearth"),
    (json.dumps({**GOOD, "version": "1"}).encode(), 'no valid "version"'),
    (json.dumps({k: v for k, v in GOOD.items() if k != "name"}).encode(), 'has no "name"'),
    (json.dumps({**GOOD, "temperature": "hot"}).encode(), "'temperature' must be a number"),
    (json.dumps({**GOOD, "tools": {"calculator": True}}).encode(), "'tools' must be a list of names"),
    (json.dumps({**GOOD, "instructions": 42}).encode(), "'instructions' must be text"),
    (b" " * (1024 * 1024 + 1), "too large"),
])
def test_a_bad_file_imports_nothing_and_says_why_in_one_line(store, tmp_path, content, says) -> None:
    create_assistant(store, "Already here")
    bad = tmp_path / "assistant.json"
    bad.write_bytes(content)

    with pytest.raises(AssistantFileError) as raised:
        import_assistant(store, bad)

    message = str(raised.value)
    assert says in message and str(bad) in message and "\n" not in message
    assert [a.name for a in list_assistants(store)] == ["Already here"]


def test_a_missing_file_says_so(store, tmp_path) -> None:
    with pytest.raises(AssistantFileError, match="Could not read .*missing.json"):
        import_assistant(store, tmp_path / "missing.json")


# -- what a chat with an assistant answers with ----------------------------------------------
def test_a_chats_own_settings_win_over_its_assistants_which_win_over_the_defaults(store) -> None:
    defaults = SamplingDefaults(temperature=0.7, top_p=0.95, max_tokens=512, think="long")
    writer = create_assistant(store, "Writer", temperature=0.2, max_tokens=900, think="off", tools=["python"])
    chat = start_conversation(store, writer.id)
    own = start_conversation(store, writer.id, settings={"chat/temperature": 1.1, "chat/think": "unlimited",
                                                         "tools/enabled": "calculator,fetch"})

    sampling = sampling_for(store.get_conversation(chat.id), defaults, 5, writer)
    assert (sampling.temperature, sampling.top_p, sampling.max_tokens, sampling.seed) == (0.2, 0.95, 900, 5)
    assert think_for(store.get_conversation(chat.id), defaults, writer).level is ThinkLevel.OFF
    assert tool_names_for(store.get_conversation(chat.id), writer, ["calculator"]) == ("python",)

    mine = store.get_conversation(own.id)
    assert sampling_for(mine, defaults, None, writer).temperature == 1.1
    assert think_for(mine, defaults, writer).level is ThinkLevel.UNLIMITED
    assert tool_names_for(mine, writer, ["calculator"]) == ("calculator", "fetch")

    assert tool_names_for(None, create_assistant(store, "Plain"), ["calculator"]) == ("calculator",)
    assert tool_names_for(None, create_assistant(store, "Toolless", tools=[]), ["calculator"]) == ()
    assert sampling_for(None, defaults).temperature == 0.7 and think_for(None, defaults).level is ThinkLevel.LONG


def test_an_answers_sources_are_kept_with_it_in_order_and_go_when_it_goes(store) -> None:
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "When was the mill built?")
    reply = store.add_message(chat.id, "assistant", "In 1841 [1].")
    sources = [AnswerSource(1, "/docs/mill.md", "History", 0, 40, "The mill was built in 1841.", "village"),
               AnswerSource(2, "/docs/river.pdf", "page 3", 100, 180, "The river floods in spring.", "village")]

    save_sources(store, reply.id, sources)

    assert sources_for(store, [reply.id, 999]) == {reply.id: sources}
    store.delete_message(reply.id)
    assert sources_for(store, [reply.id]) == {}
