"""A user takes their chats elsewhere and back: JSON that keeps everything, markdown to read,
ChatGPT's export brought in, and bad files refused whole with one line saying why."""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.store import Store, StoreError
from engine.store.answer_sources import save_sources, sources_for
from engine.store.assistants import conversation_assistant, create_assistant, set_conversation_assistant
from engine.store.chat_export import read_chats, to_document, write_json_export
from engine.store.chat_file import ChatFileError
from engine.store.chat_import import import_chats, read_chat_file, save_chats
from engine.store.chat_markdown import safe_file_name, write_markdown_export
from engine.store.records import AnswerSource

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cf"
                    "c0f01f0005000201a5d6a3a40000000049454e44ae426082")


# ---------------------------------------------------------------- building histories

@dataclass
class Answer:
    text: str
    state: str
    model: str | None
    thinking: str | None
    tool_result: str | None
    sources: list[str]  # passages of the user's documents it was given to cite


@dataclass
class Turn:
    question: str
    images: list[bytes]
    answers: list[Answer]  # all but the last are set aside by Regenerate
    show: int  # which version to put back on show at the end


@dataclass
class ChatSpec:
    title: str
    system_prompt: str
    settings: dict
    turns: list[Turn]


words = st.text(max_size=30)
answers = st.builds(Answer, words, st.sampled_from(["complete", "interrupted", "error"]),
                    st.none() | st.sampled_from(["smollm2", "qwen"]), st.none() | words, st.none() | words,
                    st.lists(words, max_size=2))
turns = st.builds(Turn, words, st.lists(st.binary(min_size=1, max_size=40), max_size=2),
                  st.lists(answers, min_size=0, max_size=3), st.integers(1, 3))
chat_specs = st.builds(
    ChatSpec, words, words,
    st.dictionaries(st.text(max_size=6), st.none() | st.booleans() | st.integers(-5, 5) | st.floats(0, 2) | words,
                    max_size=3),
    st.lists(turns, max_size=4))


def build_history(store: Store, attachments_dir: Path, specs: list[ChatSpec]) -> None:
    """Make the chats through the Store as the window would: ask, answer, think, call tools, regenerate."""
    for spec in specs:
        chat = store.create_conversation(spec.title, spec.system_prompt, spec.settings)
        for turn in spec.turns:
            question = store.add_message(chat.id, "user", turn.question)
            for blob in turn.images:
                add_image(store, attachments_dir, question.id, blob)
            answer = None
            for index, spec_answer in enumerate(turn.answers):
                answer = store.add_message(chat.id, "assistant", spec_answer.text, model=spec_answer.model)
                store.update_message(answer.id, state=spec_answer.state, prompt_tokens=12, completion_tokens=7,
                                     tokens_per_second=31.5, error="boom" if spec_answer.state == "error" else None)
                if spec_answer.thinking is not None:
                    store.save_thinking(answer.id, spec_answer.thinking, 1.25)
                if spec_answer.tool_result is not None:
                    step = store.add_tool_step(answer.id, round=1, call_id="call_1", name="calculator",
                                               arguments='{"expression": "2+2"}', preamble="Let me add.")
                    store.update_tool_step(step.id, state="done", approval="once", result=spec_answer.tool_result,
                                           ok=True, elapsed_s=0.01)
                save_sources(store, answer.id, [
                    AnswerSource(number, f"/docs/{passage[:8]}.md", passage[:5], 3, 3 + len(passage), passage, "notes")
                    for number, passage in enumerate(spec_answer.sources, 1)])
                if index < len(turn.answers) - 1:
                    store.set_aside_answer(answer.id)
            if answer is not None:
                shown, total = store.answer_versions(answer.id)
                if turn.show <= total and turn.show != shown:
                    store.show_answer_version(answer.id, turn.show)


def add_image(store: Store, attachments_dir: Path, message_id: int, blob: bytes) -> None:
    sha = hashlib.sha256(blob).hexdigest()
    path = attachments_dir / sha[:2] / f"{sha}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    store.add_attachment(message_id, sha256=sha, mime="image/png", path=f"{sha[:2]}/{sha}.png", width=1, height=1,
                         size=len(blob))


def without_ids(document: dict) -> dict:
    """The export as a person compares two: ids are each history's own."""
    document = copy.deepcopy(document)
    for conversation in document["conversations"]:
        del conversation["id"]
        for message in conversation["messages"]:
            del message["id"]
    return document


# ---------------------------------------------------------------- round trips

@settings(max_examples=25, deadline=None)
@given(st.lists(chat_specs, max_size=3))
def test_any_history_exported_and_imported_elsewhere_exports_the_same(specs: list[ChatSpec]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        here, there = Path(folder, "here"), Path(folder, "there")
        with Store(":memory:") as source, Store(":memory:") as destination:
            build_history(source, here, specs)
            exported = to_document(read_chats(source, here))
            text = json.dumps(exported)  # what goes in the file, and back
            report = save_chats(destination, there, read_chat_file_from_text(Path(folder), text))
            assert (report.imported, report.skipped) == (len(specs), 0)

            again = to_document(read_chats(destination, there))
            assert without_ids(again) == without_ids(exported)
            # The same file a second time, and into the history it came from: nothing doubles.
            assert save_chats(destination, there, read_chat_file_from_text(Path(folder), text)).skipped == len(specs)
            assert save_chats(source, here, read_chat_file_from_text(Path(folder), text)).imported == 0
            assert len(destination.list_conversations()) == len(source.list_conversations()) == len(specs)


def read_chat_file_from_text(folder: Path, text: str):
    path = folder / "chats.json"
    path.write_text(text, encoding="utf-8")
    return read_chat_file(path)[1]


def test_a_chat_keeps_its_times_versions_thinking_tools_and_image_bytes(tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    source, destination = Store(tmp_path / "a.sqlite3"), Store(tmp_path / "b.sqlite3")
    chat = source.create_conversation("Pancakes", "Be brief.", {"temperature": 0.2})
    question = source.add_message(chat.id, "user", "How many eggs?")
    add_image(source, here, question.id, PNG)
    first = source.add_message(chat.id, "assistant", "Two.", model="smollm2")
    source.set_aside_answer(first.id)
    second = source.add_message(chat.id, "assistant", "Three, for fluffy ones.", model="smollm2")
    source.save_thinking(second.id, "Recipes differ.", 2.5)
    step = source.add_tool_step(second.id, round=1, call_id="c1", name="calculator", arguments='{"expression":"1+2"}')
    source.update_tool_step(step.id, state="done", approval="once", result="3", ok=True, elapsed_s=0.02)

    report = write_json_export(source, here, tmp_path / "chats.json")
    assert (report.conversations, report.messages, report.attachments) == (1, 2, 1)
    document = json.loads((tmp_path / "chats.json").read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == ("hearth-chats", 1)
    assert base64.b64decode(document["attachment_data"][hashlib.sha256(PNG).hexdigest()]) == PNG

    imported = import_chats(destination, there, tmp_path / "chats.json")
    assert (imported.imported, imported.messages, imported.attachments) == (1, 2, 1)
    [copy_] = destination.list_conversations()
    assert (copy_.title, copy_.system_prompt, copy_.settings) == ("Pancakes", "Be brief.", {"temperature": 0.2})
    assert (copy_.created_at, copy_.updated_at) == (chat.created_at, source.get_conversation(chat.id).updated_at)
    q, a = destination.messages(copy_.id)
    assert [m.created_at for m in (q, a)] == [question.created_at, second.created_at]
    assert destination.search("fluffy")[0].message_id == a.id  # imported words are searchable
    assert destination.answer_versions(a.id) == (2, 2)
    assert destination.show_answer_version(a.id, 1).content == "Two."
    assert destination.thinking_for([a.id])[a.id].text == "Recipes differ."
    assert destination.tool_steps_for([a.id])[a.id][0].result == "3"
    [attachment] = destination.attachments(q.id)
    assert (there / attachment.path).read_bytes() == PNG
    source.close()
    destination.close()


def a_chat_with_sources(store: Store, assistant: str | None = "Cook") -> tuple[int, int]:
    """A chat asked of an assistant whose answer cites two passages of the user's recipes."""
    chat = store.create_conversation("Crêpes")
    if assistant is not None:
        set_conversation_assistant(store, chat.id, create_assistant(store, assistant, knowledge=("recipes",)).id)
    store.add_message(chat.id, "user", "How long does the batter rest?")
    answer = store.add_message(chat.id, "assistant", "One hour [1], or overnight [2].")
    save_sources(store, answer.id, [
        AnswerSource(1, "/home/me/recipes/crêpes.pdf", "page 2", 120, 171,
                     "Let the batter rest for one hour at room temperature.", "recipes"),
        AnswerSource(2, "/home/me/recipes/notes_[old].md", "Batter > Resting", 0, 34,
                     "Overnight in the fridge is better.", "recipes")])
    return chat.id, answer.id


def test_an_answers_sources_and_the_chats_assistant_travel_with_the_chat(tmp_path: Path) -> None:
    with Store(":memory:") as source, Store(":memory:") as destination:
        chat_id, answer_id = a_chat_with_sources(source)
        write_json_export(source, tmp_path / "a", tmp_path / "chats.json")
        document = json.loads((tmp_path / "chats.json").read_text(encoding="utf-8"))
        assert document["version"] == 1, "optional fields need no new version"
        [chat] = document["conversations"]
        assert chat["assistant"] == "Cook"
        assert [s["number"] for s in chat["messages"][1]["sources"]] == [1, 2]

        create_assistant(destination, "Cook")  # the same assistant exists where the chat goes
        import_chats(destination, tmp_path / "b", tmp_path / "chats.json")
        [copy_] = destination.list_conversations()
        assert conversation_assistant(destination, copy_.id).name == "Cook"
        _, answer = destination.messages(copy_.id)
        assert sources_for(destination, [answer.id])[answer.id] == sources_for(source, [answer_id])[answer_id]
        assert without_ids(to_document(read_chats(destination, tmp_path / "b"))) == without_ids(document)


def test_a_chat_whose_assistant_is_not_here_comes_in_as_a_plain_chat(tmp_path: Path) -> None:
    with Store(":memory:") as source, Store(":memory:") as destination:
        a_chat_with_sources(source, assistant="Sommelier")
        write_json_export(source, tmp_path / "a", tmp_path / "chats.json")
        import_chats(destination, tmp_path / "b", tmp_path / "chats.json")
        [copy_] = destination.list_conversations()
        assert conversation_assistant(destination, copy_.id) is None
        _, answer = destination.messages(copy_.id)
        assert len(sources_for(destination, [answer.id])[answer.id]) == 2, "the sources come anyway"


def test_a_file_from_before_sources_and_assistants_still_imports(tmp_path: Path) -> None:
    with Store(":memory:") as source, Store(":memory:") as destination:
        a_chat_with_sources(source)
        document = to_document(read_chats(source, tmp_path / "a"))
        for chat in document["conversations"]:
            del chat["assistant"]
            for message in chat["messages"]:
                del message["sources"]
        path = tmp_path / "old.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        assert import_chats(destination, tmp_path / "b", path).imported == 1
        [copy_] = destination.list_conversations()
        assert [m.content for m in destination.messages(copy_.id)][1] == "One hour [1], or overnight [2]."


# ---------------------------------------------------------------- ChatGPT

def chatgpt_node(node_id, parent, children, role=None, text=None, when=None, **extra):
    message = None
    if role is not None:
        message = {"id": node_id, "author": {"role": role, "name": None, "metadata": {}}, "create_time": when,
                   "update_time": None, "content": {"content_type": "text", "parts": [text]},
                   "status": "finished_successfully", "end_turn": True, "weight": 1.0,
                   "metadata": extra.pop("metadata", {}), "recipient": extra.pop("recipient", "all")}
    return node_id, {"id": node_id, "message": message, "parent": parent, "children": children}


def chatgpt_sample() -> list[dict]:
    """A conversation where the user edited their first question: two branches, the second on show."""
    nodes = dict([
        chatgpt_node("root", None, ["sys"]),
        chatgpt_node("sys", "root", ["q1", "q1-edit"], "system", "",
                     metadata={"is_visually_hidden_from_conversation": True}),
        chatgpt_node("q1", "sys", ["a1"], "user", "What is a crêpe?", 1714000010.0),
        chatgpt_node("a1", "q1", [], "assistant", "A thin pancake.", 1714000011.0,
                     metadata={"model_slug": "gpt-4o"}),
        chatgpt_node("q1-edit", "sys", ["call"], "user", "What is a galette?", 1714000020.0),
        chatgpt_node("call", "q1-edit", ["tool"], "assistant", "search('galette')", 1714000021.0, recipient="browser"),
        chatgpt_node("tool", "call", ["a2"], "tool", "results…", 1714000022.0),
        chatgpt_node("a2", "tool", ["q2"], "assistant", "A savoury buckwheat crêpe.", 1714000023.0,
                     metadata={"model_slug": "gpt-4o"}),
        chatgpt_node("q2", "a2", ["a3"], "user", "Gluten free?", 1714000030.0),
        chatgpt_node("a3", "q2", [], "assistant", "", 1714000031.0),  # an empty node
    ])
    nodes["q2"]["message"]["content"] = {"content_type": "multimodal_text",
                                            "parts": [{"content_type": "image_asset_pointer"}, "Gluten free?"]}
    return [{"title": "Breton food", "create_time": 1714000000.5, "update_time": 1714000031.0, "mapping": nodes,
             "current_node": "a3", "conversation_id": "6627aaaa-0000", "id": "6627aaaa-0000",
             "default_model_slug": "gpt-4o", "is_archived": False}]


def test_a_chatgpt_export_brings_in_the_branch_on_show(tmp_path: Path) -> None:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(chatgpt_sample()), encoding="utf-8")
    with Store(":memory:") as store:
        report = import_chats(store, tmp_path / "attachments", path)
        assert (report.source, report.imported, report.messages) == ("ChatGPT", 1, 3)
        [chat] = store.list_conversations()
        assert (chat.title, chat.created_at) == ("Breton food", 1714000000.5)
        messages = store.messages(chat.id)
        assert [(m.role, m.content) for m in messages] == [
            ("user", "What is a galette?"), ("assistant", "A savoury buckwheat crêpe."), ("user", "Gluten free?")]
        assert messages[1].model == "gpt-4o" and messages[0].created_at == 1714000020.0
        assert "skipped 1 chat already here" in import_chats(store, tmp_path / "attachments", path).summary()


def test_chatgpts_zip_works_as_well_as_its_conversations_json(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:
        archive.writestr("conversations.json", json.dumps(chatgpt_sample()))
        archive.writestr("chat.html", "<html></html>")
    with Store(":memory:") as store:
        assert import_chats(store, tmp_path, tmp_path / "export.zip").imported == 1


# ---------------------------------------------------------------- bad files

def a_good_export(tmp_path: Path) -> dict:
    with Store(":memory:") as store:
        for title in ("First", "Second"):
            chat = store.create_conversation(title)
            store.add_message(chat.id, "user", f"{title} question")
            store.add_message(chat.id, "assistant", f"{title} answer")
        return to_document(read_chats(store, tmp_path))


def with_duplicate_conversation(document: dict) -> dict:
    document["conversations"][1]["id"] = document["conversations"][0]["id"]
    return document


def with_duplicate_message(document: dict) -> dict:
    document["conversations"][1]["messages"][0]["id"] = document["conversations"][0]["messages"][0]["id"]
    return document


def with_bad_role(document: dict) -> dict:
    document["conversations"][1]["messages"][1]["role"] = "wizard"
    return document


def with_twice_the_same_source(document: dict) -> dict:
    document["conversations"][1]["messages"][1]["sources"] = [
        {"number": 1, "path": "/a.md", "start": 0, "end": 1, "passage": "a"},
        {"number": 1, "path": "/b.md", "start": 0, "end": 1, "passage": "b"}]
    return document


def with_newer_version(document: dict) -> dict:
    document["version"] = 2
    return document


def with_damaged_image(document: dict) -> dict:
    document["attachment_data"] = {hashlib.sha256(b"a").hexdigest(): base64.b64encode(b"b").decode()}
    return document


@pytest.mark.parametrize("spoil, says", [
    (with_duplicate_conversation, "conversation id 1 appears twice"),
    (with_duplicate_message, "message id 1 appears twice"),
    (with_bad_role, "conversation 2, message 2: 'role' must be one of system, user, assistant"),
    (with_newer_version, "written by a newer Hearth (chat file version 2"),
    (with_twice_the_same_source, "conversation 2, message 2: its sources need distinct numbers from 1 up"),
    (with_damaged_image, "does not match its sha256"),
    (lambda d: {"format": "hearth-chats", "version": 1, "conversations": {"a": 1}}, "'conversations' must be a list"),
    (lambda d: {"chats": []}, "not a chat export Hearth can read"),
    (lambda d: [1, 2, 3], "not a chat export Hearth can read"),
])
def test_a_file_with_one_thing_wrong_imports_nothing_and_says_what(tmp_path: Path, spoil, says: str) -> None:
    path = tmp_path / "chats.json"
    path.write_text(json.dumps(spoil(a_good_export(tmp_path))), encoding="utf-8")
    with Store(":memory:") as store:
        with pytest.raises(ChatFileError, match=re.escape(says)) as caught:
            import_chats(store, tmp_path / "attachments", path)
        assert "\n" not in str(caught.value)
        assert store.list_conversations() == []


def junk_of(kind: str, path: Path) -> None:
    size = 50 * 1024 * 1024
    with path.open("wb") as out:
        if kind == "random":
            for _ in range(size // (1024 * 1024)):
                out.write(os.urandom(1024 * 1024))
        elif kind == "text":
            out.write(b"lorem ipsum dolor sit amet " * (size // 27))
        else:
            out.write(b"[" * size)


@pytest.mark.parametrize("kind, says", [("random", "not text"), ("text", "not valid JSON"),
                                        ("nested", "nested too deeply")])
def test_fifty_megabytes_of_junk_is_refused_in_one_line(tmp_path: Path, kind: str, says: str) -> None:
    path = tmp_path / "junk.json"
    junk_of(kind, path)
    with Store(":memory:") as store:
        with pytest.raises(ChatFileError, match=says) as caught:
            import_chats(store, tmp_path / "attachments", path)
        assert len(str(caught.value)) < 200 and "\n" not in str(caught.value)
        assert store.list_conversations() == []


def test_a_cut_short_file_says_so(tmp_path: Path) -> None:
    text = json.dumps(a_good_export(tmp_path))
    path = tmp_path / "chats.json"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with Store(":memory:") as store, pytest.raises(ChatFileError, match="cut short"):
        import_chats(store, tmp_path, path)


def test_a_failure_while_saving_takes_back_every_chat_and_file(tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    other = b"another picture"
    with Store(":memory:") as source:
        for blob in (PNG, other):
            chat = source.create_conversation("With a picture")
            add_image(source, here, source.add_message(chat.id, "user", "look").id, blob)
        write_json_export(source, here, tmp_path / "chats.json")
    blocked = hashlib.sha256(other).hexdigest()[:2]
    there.mkdir()
    (there / blocked).write_text("a file where the second picture's folder should go")

    with Store(":memory:") as destination:
        with pytest.raises(StoreError, match="could not import the chats") as caught:
            import_chats(destination, there, tmp_path / "chats.json")
        assert "\n" not in str(caught.value)
        assert destination.list_conversations() == []
        assert [p.name for p in there.rglob("*") if p.is_file()] == [blocked]  # the first picture is gone again


# ---------------------------------------------------------------- markdown

def test_one_chat_reads_as_markdown_with_its_image_beside_it(tmp_path: Path) -> None:
    with Store(":memory:") as store:
        chat = store.create_conversation("Breakfast ideas")
        question = store.add_message(chat.id, "user", "Something with eggs?")
        add_image(store, tmp_path / "attachments", question.id, PNG)
        answer = store.add_message(chat.id, "assistant", "A **shakshuka**.", model="smollm2")
        store.save_thinking(answer.id, "Eggs in sauce.", 1.0)
        report = write_markdown_export(store, tmp_path / "attachments", tmp_path / "out" / "breakfast.md", [chat.id])
    text = (tmp_path / "out" / "breakfast.md").read_text(encoding="utf-8")
    assert text.startswith("# Breakfast ideas\n")
    assert "## You · " in text and "## Assistant (smollm2) · " in text and "A **shakshuka**." in text
    assert "<summary>Thinking (1.0 s)</summary>" in text
    image = f"breakfast-images/{hashlib.sha256(PNG).hexdigest()}.png"
    assert f"![image 1]({image})" in text
    assert (tmp_path / "out" / image).read_bytes() == PNG
    assert report.conversations == 1


def test_an_answer_in_markdown_lists_its_sources_under_it(tmp_path: Path) -> None:
    with Store(":memory:") as store:
        chat_id, _ = a_chat_with_sources(store)
        write_markdown_export(store, tmp_path / "attachments", tmp_path / "crepes.md", [chat_id])
    text = (tmp_path / "crepes.md").read_text(encoding="utf-8")
    answer_at, sources_at = text.index("One hour [1], or overnight [2]."), text.index("**Sources**")
    assert answer_at < sources_at
    assert "- \\[1\\] crêpes.pdf · page 2 — `/home/me/recipes/crêpes.pdf`" in text
    assert "- \\[2\\] notes\\_\\[old\\].md · Batter \\> Resting — `/home/me/recipes/notes_[old].md`" in text


def test_several_chats_become_a_folder_of_safely_named_files(tmp_path: Path) -> None:
    with Store(":memory:") as store:
        for title in ("Plans: 2024/25?", "plans 2024 25", "CON", "../../etc/passwd", "   "):
            store.add_message(store.create_conversation(title).id, "user", "hi")
        write_markdown_export(store, tmp_path / "attachments", tmp_path / "chats")
    names = sorted(p.name for p in (tmp_path / "chats").iterdir())
    assert names == ["CON chat.md", "Plans 2024 25.md", "chat.md", "etc passwd.md", "plans 2024 25 (2).md"]


def test_file_names_stay_short_and_distinct() -> None:
    taken: set[str] = set()
    assert safe_file_name("x" * 500, taken) == "x" * 80 + ".md"
    assert safe_file_name("X" * 500, taken) == "X" * 80 + " (2).md"
    assert safe_file_name("Ünïcode 日本語 ok", taken) == "Ünïcode 日本語 ok.md"
