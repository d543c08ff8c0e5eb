"""A reasoning model thinks before it answers: in the window the thought streams into its own
section, folds to "Thought for N s ▸" once the answer begins, and is there again when the chat
is opened later; the answer (and its Copy) is only the answer."""
from __future__ import annotations

import pytest

from tests.support.app import last_widget, running_hearth, send
from tests.support.openai_server import scripted_server


@pytest.mark.parametrize("reply", [
    "The user wants a colour. Blue is calm.</think>\n\nBlue.",
    {"reasoning": "The user wants a colour. Blue is calm.", "content": "Blue."},
], ids=["template opened the tag", "reasoning_content"])
def test_the_thought_is_shown_apart_folded_and_kept(qtbot, reply):
    with scripted_server(["qwen3-8b"]) as server, running_hearth(
            qtbot, {"remote/enabled": True, "remote/base_url": server.base_url, "remote/model": ""}) as hearth:
        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=30000)
        server.replies = [reply]
        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=15000):
            send(qtbot, hearth, "Pick a colour")
        widget = last_widget(hearth)
        assert widget.text().strip() == "Blue."
        assert widget.thinking_text().strip() == "The user wants a colour. Blue is calm."
        section = widget._thinking
        assert section.toggle.text().startswith("Thought") and not section.body.isVisible()

        hearth.transcript.open(hearth.transcript.current_id)
        reopened = last_widget(hearth)
        assert reopened.thinking_text().strip() == "The user wants a colour. Blue is calm."
        assert reopened.text().strip() == "Blue."
