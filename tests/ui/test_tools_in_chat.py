"""A user meets a tool call in the window: the card shows exactly what will run, nothing runs
until they allow it, Esc says no, and the chat keeps every step when it is opened again.
The model is a scripted OpenAI-compatible server over real HTTP (the bundled model cannot
choose to call tools)."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from tests.support.app import last_widget, running_hearth, send
from tests.support.openai_server import scripted_server


@pytest.fixture
def server():
    with scripted_server(["tool-model"]) as scripted:
        yield scripted


@pytest.fixture
def hearth(qtbot, server):
    with running_hearth(qtbot, {"remote/enabled": True, "remote/base_url": server.base_url, "remote/model": "",
                                "tools/enabled": "calculator"}) as controller:
        qtbot.waitUntil(lambda: controller.engine.ready, timeout=30000)
        yield controller


def waiting_card(qtbot, hearth):
    qtbot.waitUntil(lambda: any(c.waiting for c in last_widget(hearth).tool_cards()), timeout=10000)
    return next(c for c in last_widget(hearth).tool_cards() if c.waiting)


def test_a_calculation_waits_for_the_user_then_runs_and_its_result_shows(qtbot, hearth, server):
    server.replies = [{"content": "Let me compute. ", "tool_calls": [
        {"name": "calculator", "arguments": {"expression": "2**64"}}]}, "That is 18446744073709551616."]
    send(qtbot, hearth, "What is 2 to the 64th?")
    card = waiting_card(qtbot, hearth)
    assert card.arguments.editor.toPlainText() == "2**64", "the card must show exactly what will run"
    qtbot.waitUntil(lambda: card.allow_once.isVisible() and card.allow_chat.isVisible() and card.deny.isVisible(),
                    timeout=3000)  # a widget added to a shown window is shown by the next event loop pass
    answer_id = last_widget(hearth).message_id
    [step] = hearth.store.tool_steps_for([answer_id])[answer_id]
    assert step.state == "requested" and step.result is None, "something ran before it was allowed"
    assert len(server.requests) == 1

    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=15000):
        qtbot.mouseClick(card.allow_once, Qt.MouseButton.LeftButton)
    [step] = hearth.store.tool_steps_for([answer_id])[answer_id]
    assert (step.state, step.approval, step.result) == ("done", "once", "18446744073709551616")
    assert card.header.text().startswith("Ran Calculator") and not card.allow_once.isVisible()
    assert not card.arguments.isVisible(), "a step that has run folds to its one line"
    assert last_widget(hearth).text() == "Let me compute. That is 18446744073709551616."
    assert "18446744073709551616" in json.dumps(server.requests[1]["messages"][-1])

    hearth.transcript.open(hearth.transcript.current_id)  # opened again: the step is still there
    [card] = last_widget(hearth).tool_cards()
    assert card.step.state == "done" and "18446744073709551616" in card.header.text()


def test_esc_denies_the_call_and_the_model_is_told(qtbot, hearth, server):
    server.replies = [{"tool_calls": [{"name": "calculator", "arguments": {"expression": "1/0"}}]},
                      "All right, I will not calculate."]
    send(qtbot, hearth, "Divide one by zero")
    card = waiting_card(qtbot, hearth)
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=15000):
        qtbot.keyClick(hearth.window.composer.edit, Qt.Key.Key_Escape)
    answer_id = last_widget(hearth).message_id
    [step] = hearth.store.tool_steps_for([answer_id])[answer_id]
    assert step.state == "denied" and card.header.text().startswith("Denied")
    assert "denied by the user" in server.requests[1]["messages"][-1]["content"].lower()
    assert hearth.store.get_message(answer_id).state == "complete"
