"""`hearth assistants` and `hearth ask --assistant/--knowledge` from a terminal: a user makes an
assistant, carries it in a file, asks it a question, and sees which of their files the answer was
given; the prompt that reaches the model (a scripted server over real HTTP, or the bundled starter
model) holds the assistant's instructions and tools and the passages, delimited as data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.chat.excerpts import EXCERPTS_CLOSE, EXCERPTS_OPEN
from engine.store import Store
from tests.support.openai_server import scripted_server

ROOT = Path(__file__).resolve().parents[2]
MILL = "# The old mill\n\nThe Hartwell mill was built in 1841 by Agnes Hartwell, and its wheel still turns on Sundays."
QUESTION = "Who built the Hartwell mill?"


def hearth(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, HEARTH_HOME=str(home)), timeout=240)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    return result


def chats_in(home: Path) -> list:
    with Store(home / "hearth.sqlite3") as store:
        return store.list_conversations()


@pytest.fixture
def village(hearth_home: Path, tmp_path: Path) -> Path:
    """The user's notes indexed as the knowledge collection 'village' in Hearth's own history."""
    from engine.knowledge.index_store import KnowledgeStore
    from engine.knowledge.indexer import index_collection
    from engine.knowledge.retrieval import default_embedder

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mill.md").write_text(MILL + "\n", encoding="utf-8")
    (folder / "bakery.txt").write_text("The bakery on Quay Street sells rye bread on Fridays.\n", encoding="utf-8")
    with Store(hearth_home / "hearth.sqlite3") as store:
        knowledge = KnowledgeStore(store)
        embedder = default_embedder()
        collection = knowledge.create_collection("village", embedder.name, embedder.dimension)
        knowledge.add_roots(collection, [str(folder)])
        list(index_collection(knowledge, "village", embedder))
    return folder / "mill.md"


def test_make_list_carry_and_remove_an_assistant(hearth_home: Path, tmp_path: Path) -> None:
    ok(hearth("assistants", "add", "Historian", "--instructions", "You answer from the village archive.",
              "--tools", "calculator", "--knowledge", "village", "--temperature", "0.2", "--think", "off",
              home=hearth_home))

    [listed] = json.loads(ok(hearth("assistants", "list", "--json", home=hearth_home)).stdout)
    assert listed == {"name": "Historian", "instructions": "You answer from the village archive.", "model": "",
                      "temperature": 0.2, "top_p": None, "max_tokens": None, "tools": ["calculator"],
                      "think": "off", "knowledge": ["village"]}
    plain = ok(hearth("assistants", "list", home=hearth_home)).stdout
    assert plain == "Historian\tdefault model\tcalculator\tknowledge: village\n"

    carried = tmp_path / "historian.json"
    ok(hearth("assistants", "export", "historian", "--out", str(carried), home=hearth_home))
    assert json.loads(carried.read_text())["format"] == "hearth-assistant"
    elsewhere = tmp_path / "other-computer"
    ok(hearth("assistants", "import", str(carried), home=elsewhere))
    assert json.loads(ok(hearth("assistants", "list", "--json", home=elsewhere)).stdout) == [listed]

    ok(hearth("assistants", "import", str(carried), home=hearth_home))
    ok(hearth("assistants", "import", str(carried), "--name", "Archivist", home=hearth_home))
    ok(hearth("assistants", "remove", "Historian", home=hearth_home))
    names = [a["name"] for a in json.loads(ok(hearth("assistants", "list", "--json", home=hearth_home)).stdout)]
    assert names == ["Archivist", "Historian (2)"]


def test_mistakes_are_one_line_exit_2_and_change_nothing(hearth_home: Path, tmp_path: Path) -> None:
    ok(hearth("assistants", "add", "Historian", home=hearth_home))
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "hearth-chats", "version": 1}')
    cases = [
        (("assistants", "add", "historian"), "already an assistant named 'historian'"),
        (("assistants", "add", "Hot", "--temperature", "5"), "'temperature' must be a number from 0 to 2"),
        (("assistants", "add", "Big", "--model", "/no/such/model.gguf"), "model file not found"),
        (("assistants", "remove", "Nobody"), "no assistant named 'Nobody'"),
        (("assistants", "export", "Nobody", "--out", str(tmp_path / "x.json")), "no assistant named 'Nobody'"),
        (("assistants", "import", str(tmp_path / "missing.json")), "Could not read"),
        (("assistants", "import", str(bad)), "is not a Hearth assistant file"),
        (("ask", "--assistant", "Nobody", "hi"), "no assistant named 'Nobody'"),
        (("ask", "--knowledge", "nothing-here", "hi"), "no knowledge collection named 'nothing-here'"),
    ]
    for args, says in cases:
        result = hearth(*args, home=hearth_home)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and says in result.stderr and not result.stdout, (args, result.stderr)
        assert "Traceback" not in result.stderr
    names = [a["name"] for a in json.loads(ok(hearth("assistants", "list", "--json", home=hearth_home)).stdout)]
    assert names == ["Historian"] and chats_in(hearth_home) == []


def test_ask_knowledge_with_the_starter_model_reports_the_file_it_was_given(hearth_home: Path, village: Path) -> None:
    result = ok(hearth("ask", "--knowledge", "village", "--json", "--max-tokens", "8", "--temperature", "0",
                       QUESTION, home=hearth_home))

    data = json.loads(result.stdout)
    assert data["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and data["finish_reason"] in ("stop", "length")
    first = data["sources"][0]
    assert (first["n"], first["path"], first["location"]) == (1, str(village), "whole file")
    assert first["passage"] == MILL
    assert chats_in(hearth_home) == [], "a plain ask kept history"


def test_ask_knowledge_puts_the_passage_in_the_prompt_delimited_as_data(hearth_home: Path, village: Path) -> None:
    with scripted_server() as server:
        server.replies = ["Agnes Hartwell built it [1].", "Agnes Hartwell [1]."]
        as_json = ok(hearth("ask", "--server", server.base_url, "--knowledge", "village", "--json", QUESTION,
                            home=hearth_home))
        plain = ok(hearth("ask", "--server", server.base_url, "--knowledge", "village", QUESTION, home=hearth_home))

    question = server.requests[0]["messages"][-1]
    assert question["role"] == "user"
    assert question["content"].startswith(EXCERPTS_OPEN)
    assert f"[1] {village}, whole file\n{MILL}" in question["content"]
    assert question["content"].endswith(f"{EXCERPTS_CLOSE}\n\n{QUESTION}")
    data = json.loads(as_json.stdout)
    assert data["text"] == "Agnes Hartwell built it [1]." and data["sources"][0]["path"] == str(village)
    assert plain.stdout.startswith("Agnes Hartwell [1].\n\nSources:\n")
    assert f"[1] {village} (whole file)\n" in plain.stdout


def test_ask_as_an_assistant_sends_its_instructions_tools_sampling_and_knowledge(hearth_home: Path,
                                                                              village: Path) -> None:
    ok(hearth("assistants", "add", "Historian", "--instructions", "You answer from the village archive.",
              "--tools", "calculator", "--knowledge", "village", "--temperature", "0.2", "--think", "off",
              home=hearth_home))
    with scripted_server() as server:
        server.replies = ["Agnes Hartwell.", "In 1841.", "Rye bread."]
        first = ok(hearth("ask", "--server", server.base_url, "--assistant", "historian", "--system", "Be brief.",
                          "--save", "--json", QUESTION, home=hearth_home))
        onward = ok(hearth("ask", "--server", server.base_url, "-c", "--temperature", "0.9", "When was it built?",
                           home=hearth_home))
        unsaved = ok(hearth("ask", "--server", server.base_url, "--assistant", "Historian", "--tools", "",
                            "What does the bakery sell?", home=hearth_home))

    sent = server.requests[0]
    assert sent["messages"][0] == {"role": "system", "content": "You answer from the village archive.\n\nBe brief."}
    assert [t["function"]["name"] for t in sent["tools"]] == ["calculator"]
    assert sent["temperature"] == 0.2 and sent["chat_template_kwargs"] == {"enable_thinking": False}
    assert f"[1] {village}, whole file" in sent["messages"][-1]["content"]
    data = json.loads(first.stdout)
    assert data["assistant"] == "Historian" and data["sources"][0]["path"] == str(village)

    following = server.requests[1]   # -c goes on as the chat's assistant; a flag given here wins
    assert following["messages"][0]["content"].startswith("You answer from the village archive.")
    assert following["temperature"] == 0.9 and [t["function"]["name"] for t in following["tools"]] == ["calculator"]
    assert following["messages"][1] == {"role": "user", "content": QUESTION}   # kept as typed, without excerpts
    assert following["messages"][-1]["content"].endswith("When was it built?")
    assert onward.stdout.startswith("In 1841.")

    assert "tools" not in server.requests[2] and unsaved.stdout.startswith("Rye bread.")
    assert "bakery.txt" in server.requests[2]["messages"][-1]["content"]

    from engine.store.assistants import assistant_names

    [chat] = chats_in(hearth_home)   # the unsaved question left nothing behind
    with Store(hearth_home / "hearth.sqlite3") as store:
        assert assistant_names(store, [chat.id]) == {chat.id: "Historian"}
        assert [m.role for m in store.messages(chat.id)] == ["user", "assistant"] * 2
