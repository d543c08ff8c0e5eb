"""Stop ends an answer at once, even when the server has gone quiet mid-answer, and a Stop that
comes after a request has ended never reaches into the connection the next request reuses."""
from __future__ import annotations

import threading
import time

from engine.cancel import Cancel
from engine.llm.client import ChatClient, StreamFinished, TextDelta
from tests.support.openai_server import scripted_server


def test_stop_ends_an_answer_whose_server_went_quiet():
    with scripted_server(["quiet-model"]) as server:
        server.replies = [{"stall_after": "The first words and then"}]
        client = ChatClient(server.base_url, model="quiet-model", timeout=120)
        cancel = Cancel()
        events: list = []
        first_words = threading.Event()

        def answer() -> None:
            for event in client.stream([{"role": "user", "content": "Hi"}], cancel=cancel):
                events.append(event)
                if isinstance(event, TextDelta):
                    first_words.set()

        reader = threading.Thread(target=answer, daemon=True)
        reader.start()
        assert first_words.wait(30), "the first words never came"
        time.sleep(0.2)  # the reader is now waiting on a quiet connection
        cancel.cancel()
        reader.join(30)  # a hang detector, not a speed limit: the read used to wait for the timeout
        assert not reader.is_alive(), "Stop did not wake the read waiting on a quiet server"
        assert isinstance(events[-1], StreamFinished) and events[-1].finish_reason == "cancelled"
        assert "".join(e.text for e in events if isinstance(e, TextDelta)).startswith("The first words")
        client.close()


def test_closing_calls_the_closer_only_while_the_block_runs():
    calls: list[str] = []
    cancel = Cancel()
    with cancel.closing(lambda: calls.append("first")):
        pass
    with cancel.closing(lambda: calls.append("second")):
        cancel.cancel()
    with cancel.closing(lambda: calls.append("third")):  # already cancelled: at once
        pass
    assert calls == ["second", "third"]
