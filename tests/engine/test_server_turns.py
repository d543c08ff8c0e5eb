"""The window and outside apps share one engine: the window's answer is never cut off and never
waits behind an app's long answer; an app's answer steps aside and continues, complete."""
from __future__ import annotations

import threading
import time

import openai

from engine.llm.client import ChatClient, Sampling, StreamFinished, TextDelta
from engine.llm.turns import EngineTurns
from engine.server.front import create_front
from engine.server.ledger import Ledger
from engine.server.relay import Upstream
from engine.server.serve import LocalServer
from tests.support.engine import shared_host  # noqa: F401 - fixture

KEY = "test-key-123456"
END_OF_TURN = "2"  # SmolLM2's <|im_end|>: banned, so every answer runs to its token budget


def test_the_window_takes_the_engine_from_an_app_within_a_token():
    turns = EngineTurns()
    yielded_at: list[float] = []
    with turns.background() as app_turn:
        app_turn.on_yield(lambda: yielded_at.append(time.monotonic()))
        entered: list[float] = []

        def window() -> None:
            with turns.foreground():
                entered.append(time.monotonic())

        thread = threading.Thread(target=window)
        thread.start()
        deadline = time.monotonic() + 5
        while not yielded_at and time.monotonic() < deadline:
            time.sleep(0.001)
        assert app_turn.yielded and not entered  # asked to yield; the window waits for it to let go
    thread.join(5)
    assert entered and entered[0] >= yielded_at[0]


def test_an_app_that_yielded_goes_before_apps_that_came_later():
    turns = EngineTurns()
    order: list[str] = []
    first = turns.join_line()
    held = turns.take(first)
    later = turns.join_line()
    turns.release(held)  # pretend it yielded and comes back
    again = turns.join_line(resuming=True)
    for name, ticket in (("resumed", again), ("later", later)):
        turn = turns.take(ticket, timeout=1)
        assert turn is not None
        order.append(name)
        turns.release(turn)
    assert order == ["resumed", "later"]


def test_apps_wait_while_the_window_answers():
    turns = EngineTurns()
    ticket = turns.join_line()
    with turns.foreground():
        assert turns.take(ticket, timeout=0.2) is None
    assert turns.take(ticket, timeout=1) is not None


def test_two_apps_stream_while_the_window_streams_and_every_answer_is_complete(shared_host):
    ledger = Ledger()
    name = shared_host.config.model_path.name
    front = create_front(lambda: Upstream(shared_host.base_url, shared_host.api_key, name, shared_host.turns),
                         api_key=lambda: KEY, ledger=ledger)
    server = LocalServer(front, port=0)
    server.start()
    try:
        app_tokens = 80
        results: dict[int, dict] = {}
        first_words = threading.Event()

        def app(index: int) -> None:
            client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
            text, finish, usage = "", None, None
            for chunk in client.chat.completions.create(
                    model=name.removesuffix(".gguf"), stream=True, max_tokens=app_tokens, temperature=0,
                    logit_bias={END_OF_TURN: -100}, stream_options={"include_usage": True},
                    messages=[{"role": "user", "content": f"Tell story number {index} about a lighthouse."}]):
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
                    finish = chunk.choices[0].finish_reason or finish
                    if text:
                        first_words.set()
                if chunk.usage:
                    usage = chunk.usage
            results[index] = {"text": text, "finish": finish, "tokens": usage.completion_tokens}

        apps = [threading.Thread(target=app, args=(i,)) for i in (1, 2)]
        for thread in apps:
            thread.start()
        assert first_words.wait(60)

        window = ChatClient(shared_host.base_url, shared_host.api_key, turns=shared_host.turns)
        words, finished = "", None
        for event in window.stream([{"role": "user", "content": "Describe the sea in detail."}],
                                   Sampling(temperature=0, max_tokens=40)):
            if isinstance(event, TextDelta):
                words += event.text
            elif isinstance(event, StreamFinished):
                finished = event
        for thread in apps:
            thread.join(120)

        assert words.strip() and finished.finish_reason in ("stop", "length")  # the window was never cut off
        for index in (1, 2):
            assert results[index]["finish"] == "length", results[index]
            assert results[index]["tokens"] == app_tokens, results[index]
            assert results[index]["text"].strip()
        assert sum(r.pauses for r in ledger.recent()) >= 1  # an app stepped aside for the window
        deadline = time.monotonic() + 10  # each request is written down just after its last word
        while ledger.served < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ledger.served == 2 and all(r.outcome == "ok" for r in ledger.recent())
    finally:
        server.stop()
