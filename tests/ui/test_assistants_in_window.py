"""A user makes an assistant in the window, gives it standing instructions, a model of its own
and a knowledge collection of their documents, starts a chat with it and asks: the answer comes
from that model, with the instructions first in the prompt and the passage holding the fact among
its saved sources. Deleting the assistant offers Undo. A second story, over a scripted
OpenAI-compatible server that records every request, checks exactly what an assistant's chat
sends (model, sampling, tools, instructions, excerpts) and what a plain chat sends instead, and
the assistant file going out and coming back in.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

import engine.knowledge.indexer as indexer
from app import paths
from app.gui.assistant_answers import tools_for
from engine.chat.excerpts import EXCERPTS_OPEN
from engine.store.answer_sources import sources_for
from engine.store.records import Assistant
from engine.tools.registry import ToolSettings
from tests.engine.test_knowledge_corpus import build_corpus
from tests.support.app import running_hearth, send
from tests.support.openai_server import scripted_server
from ui.chat_list_delegate import ASSISTANT_ROLE

INSTRUCTIONS = "You are the keeper of the Varnholm lighthouse. Answer from the handbook and cite it."
QUESTION = "How long before sunset is the Varnholm lamp switched on?"


@pytest.fixture
def documents(tmp_path) -> Path:
    return build_corpus(tmp_path / "handbook", filler_paragraphs=1)


def index_handbook(qtbot, hearth, documents: Path) -> None:
    """The Knowledge window's way: a new collection, a folder added, indexed in the background."""
    with qtbot.waitSignal(hearth.knowledge_index.index_ended, timeout=120000) as ended:
        hearth.knowledge_index.dialog.new_requested.emit("Handbook")
        hearth.knowledge_index.dialog.add_requested.emit("Handbook", [str(documents)])
    assert ended.args == ["Handbook", "finished"]


def chat_row_assistant(hearth, conversation_id: int):
    rows = hearth.window.conversations.list
    return next(rows.item(i).data(ASSISTANT_ROLE) for i in range(rows.count())
                if rows.item(i).data(Qt.ItemDataRole.UserRole) == conversation_id)


def recorded_prompts(hearth) -> list:
    """Every prompt the planner builds for the answers (what is sent to the model)."""
    prompts, plan = [], hearth.planner.plan
    hearth.planner.plan = lambda *args, **kwargs: prompts.append(plan(*args, **kwargs)) or prompts[-1]
    return prompts


def test_an_assistant_answers_its_chat_with_its_model_instructions_and_documents_then_is_deleted_and_undone(
        qtbot, documents, starter_model, monkeypatch):
    monkeypatch.setattr(indexer, "PENDING_CHUNKS", 16)
    own_model = paths.models_dir() / "keeper-model.gguf"   # the library finds it in Hearth's models folder
    own_model.parent.mkdir(parents=True, exist_ok=True)
    os.link(starter_model, own_model)
    with running_hearth(qtbot, {"chat/temperature": 0.0, "chat/max_tokens": 24, "engine/n_ctx": 2048}) as hearth:
        window = hearth.window
        index_handbook(qtbot, hearth, documents)
        qtbot.waitUntil(lambda: window.model_picker.findData(str(own_model)) >= 0, timeout=30000)
        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60000)

        window.assistants_action.trigger()
        dialog = hearth.assistants.dialog
        assert dialog.isVisible() and dialog.empty_note.isVisible()
        qtbot.mouseClick(dialog.new_button, Qt.MouseButton.LeftButton)
        editor = hearth.assistants.editor
        assert editor.isVisible()
        editor.instructions.setPlainText(INSTRUCTIONS)
        editor.model.setCurrentIndex(editor.model.findData(str(own_model)))
        editor.temperature.setValue(0.0)
        editor.max_tokens.setValue(24)
        editor.default_tools.setChecked(False)   # no tools at all
        [handbook] = [editor.knowledge.item(i) for i in range(editor.knowledge.count())]
        assert handbook.text() == "Handbook"
        handbook.setCheckState(Qt.CheckState.Checked)
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)   # no name yet
        assert editor.isVisible() and editor.error.text() == "An assistant needs a name."
        assert editor.instructions.toPlainText() == INSTRUCTIONS, "nothing typed is lost"
        qtbot.keyClicks(editor.name, "Lighthouse keeper")
        qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
        assert not editor.isVisible()
        assert [dialog.table.item(0, c).text() for c in range(4)] == [
            "Lighthouse keeper", "keeper-model.gguf", "No tools", "Handbook"]

        [(keeper_id, name)] = [(a.data(), a.text()) for a in window.new_with_menu.actions()[:1]
                               if a.isEnabled()] or [(None, None)]
        assert name == "Lighthouse keeper" and window.conversations.new_with_button.isVisible()
        window.new_with_menu.actions()[0].trigger()   # Chat → New chat with → Lighthouse keeper
        chat = hearth.transcript.current_id
        assert chat is not None and not dialog.isVisible()
        assert chat_row_assistant(hearth, chat) == "Lighthouse keeper"
        # Its questions bring passages of the Handbook: the context meter keeps room for them.
        composer, meter = window.composer.edit, hearth.meter.meter
        composer.setPlainText(QUESTION)
        qtbot.waitUntil(lambda: "Kept for passages of your documents: up to" in meter.toolTip(), timeout=30000)
        composer.clear()

        prompts = recorded_prompts(hearth)
        retrieved = []
        hearth.answers.sources_retrieved.connect(retrieved.append)
        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=120000) as finished:
            send(qtbot, hearth, QUESTION)
            qtbot.waitUntil(lambda: hearth.engine.plan is not None and
                            Path(hearth.engine.plan.local.model_path) == own_model, timeout=5000)
        answer = hearth.store.get_message(finished.args[0])
        assert answer.state == "complete" and answer.model == "keeper-model.gguf", "it answers with its own model"
        assert retrieved == [answer.id]
        sources = sources_for(hearth.store, [answer.id])[answer.id]
        assert "lighthouse.md" in [Path(s.path).name for s in sources[:5]]
        assert all(s.collection == "Handbook" for s in sources)
        system, question = prompts[0].messages[0], prompts[0].messages[-1]
        assert system == {"role": "system", "content": INSTRUCTIONS}
        assert question["content"].startswith(EXCERPTS_OPEN) and question["content"].endswith(QUESTION)
        assert str(documents / "lighthouse.md") in question["content"]

        # A plain chat answers with the toolbar's model again, without the assistant's documents.
        window.new_action.trigger()
        plain = hearth.transcript.current_id
        assert plain != chat and chat_row_assistant(hearth, plain) is None
        composer.setPlainText("Hello!")
        qtbot.waitUntil(lambda: re.search(r"Your draft: [1-9]", meter.toolTip()) is not None, timeout=30000)
        assert "passages" not in meter.toolTip(), "a plain chat keeps no room for documents"
        composer.clear()
        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=120000) as finished:
            send(qtbot, hearth, "Hello!")
        assert hearth.store.get_message(finished.args[0]).model == starter_model.name
        assert not prompts[-1].messages[-1]["content"].startswith(EXCERPTS_OPEN)

        # Delete, and Undo brings it back with its chat.
        window.assistants_action.trigger()
        dialog.select(keeper_id)
        qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
        assert dialog.table.rowCount() == 0 and dialog.undo_button.isVisible()
        assert "Deleted Lighthouse keeper" in dialog.message.text()
        assert chat_row_assistant(hearth, chat) is None, "its chat answers as a plain chat now"
        assert not window.conversations.new_with_button.isVisible()
        qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
        assert dialog.table.item(0, 0).text() == "Lighthouse keeper" and not dialog.undo_button.isVisible()
        assert chat_row_assistant(hearth, chat) == "Lighthouse keeper"
        assert window.new_with_menu.actions()[0].text() == "Lighthouse keeper"


@pytest.fixture
def server():
    with scripted_server(["tool-model", "other-model"]) as scripted:
        yield scripted


def test_what_an_assistants_chat_sends_and_the_assistant_file_out_and_back_in(qtbot, server, documents, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setattr(indexer, "PENDING_CHUNKS", 16)
    with running_hearth(qtbot, {"remote/enabled": True, "remote/base_url": server.base_url, "remote/model": "",
                                "tools/enabled": "calculator,fetch"}) as hearth:
        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=30000)
        index_handbook(qtbot, hearth, documents)
        hearth.window.assistants_action.trigger()
        dialog = hearth.assistants.dialog

        broken = tmp_path / "archivist.json"
        broken.write_text('{"format": "hearth-assistant", "version": 1, "name": "Archivist", "temperature": 7}')
        dialog.import_requested.emit(str(broken))   # Import… picked a bad file
        assert "temperature" in dialog.message.text() and "\n" not in dialog.message.text()
        assert dialog.table.rowCount() == 0
        broken.write_text(json.dumps({
            "format": "hearth-assistant", "version": 1, "name": "Archivist", "instructions": INSTRUCTIONS,
            "model": "other-model", "temperature": 0.3, "top_p": 0.8, "max_tokens": 77, "tools": ["calculator"],
            "think": "", "knowledge": ["Handbook"]}))
        dialog.import_requested.emit(str(broken))
        assert dialog.message.text() == "Imported Archivist."
        assert [dialog.table.item(0, c).text() for c in range(4)] == ["Archivist", "other-model", "Calculator",
                                                                      "Handbook"]
        qtbot.mouseClick(dialog.chat_button, Qt.MouseButton.LeftButton)   # a new chat with it
        chat = hearth.transcript.current_id
        assert chat_row_assistant(hearth, chat) == "Archivist"

        server.replies = ["The lamp is lit forty minutes before sunset [1]."]
        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000) as finished:
            send(qtbot, hearth, QUESTION)
        request = server.requests[-1]
        assert request["model"] == "other-model", "the assistant's model on the server"
        assert (request["temperature"], request["top_p"]) == (0.3, 0.8) and request["max_tokens"] <= 77
        assert [tool["function"]["name"] for tool in request["tools"]] == ["calculator"]
        assert request["messages"][0] == {"role": "system", "content": INSTRUCTIONS}
        assert request["messages"][-1]["content"].startswith(EXCERPTS_OPEN)
        sources = sources_for(hearth.store, [finished.args[0]])[finished.args[0]]
        assert "lighthouse.md" in [Path(s.path).name for s in sources[:5]]

        hearth.window.new_action.trigger()   # a plain chat: the server's default model, every default tool
        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000):
            send(qtbot, hearth, "Hello!")
        request = server.requests[-1]
        assert request["model"] == "tool-model"
        assert sorted(tool["function"]["name"] for tool in request["tools"]) == ["calculator", "fetch"]
        assert request["messages"][0]["content"] == hearth.settings.get("chat/system_prompt")
        assert not request["messages"][-1]["content"].startswith(EXCERPTS_OPEN)

        out = tmp_path / "shared" / "archivist.json"
        out.parent.mkdir()
        archivist = dialog.table.item(0, 0).data(Qt.ItemDataRole.UserRole)
        dialog.export_requested.emit(archivist, str(out))   # Export…
        assert json.loads(out.read_text())["knowledge"] == ["Handbook"]
        dialog.import_requested.emit(str(out))
        dialog.select(archivist)
        qtbot.mouseClick(dialog.duplicate_button, Qt.MouseButton.LeftButton)
        assert sorted(dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())) == [
            "Archivist", "Archivist (2)", "Archivist (copy)"]
        assert [a.text() for a in hearth.window.new_with_menu.actions()[:3]] == [
            "Archivist", "Archivist (2)", "Archivist (copy)"]


def test_an_assistant_that_names_its_tools_takes_no_other_tools_not_even_mcp_ones():
    mcp = SimpleNamespace(spec=SimpleNamespace(name="notes__search"))
    window_tools = ToolSettings(enabled=("calculator", "python"), extra_tools=(mcp,))
    calculator_only = Assistant(1, "Sums", tools=("calculator",))
    narrowed = tools_for(None, calculator_only, window_tools)
    assert (narrowed.enabled, narrowed.extra_tools) == (("calculator",), ())
    with_notes = tools_for(None, Assistant(2, "Notes", tools=("notes__search",)), window_tools)
    assert (with_notes.enabled, with_notes.extra_tools) == ((), (mcp,))
    assert tools_for(None, Assistant(3, "Defaults"), window_tools) == window_tools
