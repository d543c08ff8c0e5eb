"""The engine process dies (SIGKILL) in the middle of an answer, in the real app on the starter model:
the words already written are kept and marked interrupted with the reason, the window says what
happened, the engine comes back by itself, and the next message is answered."""
from __future__ import annotations

import os
import signal

import pytest
from PySide6.QtCore import Qt

from tests.support.app import running_hearth


@pytest.fixture
def hearth(qtbot):
    with running_hearth(qtbot, {"chat/temperature": 0.0, "chat/max_tokens": 400, "engine/n_ctx": 2048}) as controller:
        yield controller


@pytest.fixture
def engine_label_history(hearth) -> list[tuple[str, bool]]:
    """Every (text, error) the engine label was given, in order: what the user saw, however briefly."""
    seen: list[tuple[str, bool]] = []
    show = hearth.window.set_engine_status

    def recording(text: str, error: bool = False) -> None:
        seen.append((text, error))
        show(text, error)

    hearth.window.set_engine_status = recording
    return seen


def send(qtbot, hearth, text: str) -> None:
    composer = hearth.window.composer
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, text)
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)


def test_a_killed_engine_keeps_the_partial_answer_says_so_and_comes_back(qtbot, hearth, engine_label_history):
    window = hearth.window
    qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60000)
    send(qtbot, hearth, "Write a long story about a lighthouse keeper and the sea.")
    answer = window.messages.widgets()[-1]
    qtbot.waitUntil(lambda: len(answer.text()) > 40, timeout=60000)
    assert hearth.answers.streaming
    killed_pid = hearth.engine.host.pid

    failures: list[tuple[int, str]] = []
    hearth.answers.answer_failed.connect(lambda mid, text: failures.append((mid, text)))
    with qtbot.waitSignals([hearth.answers.answer_failed, hearth.engine.engine_died], timeout=30000):
        os.kill(killed_pid, signal.SIGKILL)
    [(message_id, reason)] = failures

    # The partial answer is kept, marked interrupted, with a reason the user can read.
    stored = hearth.store.get_message(message_id)
    assert stored.state == "interrupted"
    assert len(stored.content) > 40
    assert stored.error == reason and "model server" in reason.lower()
    assert answer.message_id == message_id
    assert answer.state == "interrupted"
    assert answer.text() == stored.content
    assert answer._footer.text() == reason
    assert not hearth.answers.streaming
    assert window.composer.send_button.isVisible()

    # The window said what happened to the engine, and that it is restarting.
    died = [text for text, error in engine_label_history if error]
    assert died and "SIGKILL" in died[0] and "Restarting" in died[0], engine_label_history
    assert window.statusBar().currentMessage()

    # It comes back by itself, as a new process.
    qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60000)
    assert hearth.engine.host.pid != killed_pid
    assert window.engine_label.text().startswith("Ready")
    assert "Restarting" not in window.statusBar().currentMessage()
    assert "running again" in window.statusBar().currentMessage()

    # The next message is answered, and the interrupted one is still there above it.
    hearth.settings.set("chat/max_tokens", 30)
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000) as finished:
        send(qtbot, hearth, "Say hello.")
    next_answer = hearth.store.get_message(finished.args[0])
    assert next_answer.state == "complete" and next_answer.content.strip()
    states = [m.state for m in hearth.store.messages(hearth.transcript.current_id)]
    assert states == ["complete", "interrupted", "complete", "complete"]


def test_a_message_sent_while_the_engine_restarts_waits_for_it_and_is_answered(qtbot, hearth):
    qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60000)
    hearth.settings.set("chat/max_tokens", 20)
    with qtbot.waitSignal(hearth.engine.engine_died, timeout=30000):
        os.kill(hearth.engine.host.pid, signal.SIGKILL)
    assert not hearth.engine.ready
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000) as finished:
        send(qtbot, hearth, "Are you back?")
        assert hearth.window.composer.edit.toPlainText() == ""  # taken: it waits, it is not lost
    assert hearth.store.get_message(finished.args[0]).state == "complete"


def test_the_status_bar_says_the_engine_is_back_whichever_news_came_last(qtbot, hearth):
    """The broken-off answer's message and the death report come from different threads, in either
    order; once the engine is ready the status bar says it is running again either way."""
    qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60000)
    window = hearth.window
    hearth._engine_died("The model engine stopped (SIGKILL). Restarting it…")
    hearth.answers.status.emit("The connection to the model server broke off in the middle of the answer.")
    hearth._engine_state("ready")
    assert "running again" in window.statusBar().currentMessage()
    assert window.engine_label.text().startswith("Ready")
