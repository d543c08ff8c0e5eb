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


def test_stop_while_python_runs_ends_the_run_and_keeps_the_step(qtbot, hearth, server):
    hearth.settings.set("tools/enabled", "calculator,python")
    hearth.settings.set("tools/python_seconds", 120)
    server.replies = [{"content": "Running it. ", "tool_calls": [
        {"name": "python", "arguments": {"code": "n = 0\nwhile True:\n    n += 1"}}]}, "never asked"]
    send(qtbot, hearth, "Count forever")
    card = waiting_card(qtbot, hearth)
    qtbot.waitUntil(card.allow_once.isVisible, timeout=3000)
    qtbot.mouseClick(card.allow_once, Qt.MouseButton.LeftButton)
    answer_id = last_widget(hearth).message_id
    qtbot.waitUntil(lambda: hearth.store.tool_steps_for([answer_id])[answer_id][0].state == "running", timeout=15000)
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=15000):  # far inside the 120 s limit
        qtbot.mouseClick(hearth.window.composer.stop_button, Qt.MouseButton.LeftButton)
    [step] = hearth.store.tool_steps_for([answer_id])[answer_id]
    assert step.state == "stopped" and step.approval == "once"
    assert hearth.store.get_message(answer_id).state == "interrupted"
    assert hearth.store.get_message(answer_id).content == "Running it. "
    assert len(server.requests) == 1, "a stopped loop asks the model nothing more"
    assert not hearth.answers.streaming and hearth.window.composer.send_button.isVisible()


KILLED_WINDOW = r"""
import os, sys
sys.path.insert(0, sys.argv[2])
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.settings import Settings
settings = Settings()
for key, value in {"remote/enabled": True, "remote/base_url": sys.argv[1], "remote/model": "",
                   "tools/enabled": "python", "tools/python_seconds": 600}.items():
    settings.set(key, value)
from app.gui.main_window_controller import HearthController
hearth = HearthController()
hearth.window.show()
hearth.start()
state = {"sent": False, "allowed": False}

def step():
    if not state["sent"] and hearth.engine.ready:
        hearth.window.composer.edit.setPlainText("Wait for an hour")
        hearth.window.composer.send_requested.emit("Wait for an hour")
        state["sent"] = True
    widgets = hearth.window.messages.widgets()
    cards = widgets[-1].tool_cards() if widgets and hasattr(widgets[-1], "tool_cards") else []
    if cards and cards[0].waiting and not state["allowed"]:
        cards[0].allow_once.click()
        state["allowed"] = True
    if cards and cards[0].step.state == "running":
        print("RUNNING", flush=True)
        return
    QTimer.singleShot(50, step)

QTimer.singleShot(0, step)
app.exec()
"""


def test_the_window_killed_mid_loop_loses_no_step(tmp_path, server):
    """kill -9 of the whole app while an approved Python run is under way."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from engine.store import Store

    root = Path(__file__).resolve().parents[2]
    server.replies = [{"content": "I will wait. ", "tool_calls": [
        {"name": "python", "arguments": {"code": "import time\ntime.sleep(3600)"}}]}, "never asked"]
    home = tmp_path / "home"
    child = subprocess.Popen([sys.executable, "-c", KILLED_WINDOW, server.base_url, str(root)], cwd=root,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=dict(os.environ, HEARTH_HOME=str(home)))
    try:
        line = child.stdout.readline()
        assert line.startswith("RUNNING"), line
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)

    with Store(home / "hearth.sqlite3") as store:  # Hearth starting again
        [chat] = store.list_conversations()
        question, reply = store.messages(chat.id)
        assert question.content == "Wait for an hour"
        assert reply.state == "interrupted" and reply.content == "I will wait. "
        [step] = store.tool_steps_for([reply.id])[reply.id]
        assert (step.name, step.approval, step.state) == ("python", "once", "stopped")
        assert json.loads(step.arguments) == {"code": "import time\ntime.sleep(3600)"}
