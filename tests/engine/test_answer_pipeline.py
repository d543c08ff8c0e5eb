"""One answer, start to end, through engine/chat on the real starter model (no Qt): the events a
front end sees, and what the chat history holds afterwards, when the answer completes, is stopped,
outgrows the window, loses its engine, or meets a full disk."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from engine.cancel import Cancel
from engine.chat import answer, begin_answer
from engine.chat.answer import SAVE_EVERY_S, STOPPED_EARLY
from engine.chat.events import AnswerDelta, AnswerFailed, AnswerFinished, AnswerPlanned
from engine.llm.client import Sampling
from engine.llm.endpoint import local_plan, open_endpoint
from engine.store import Store
from tests.support.engine import RecordingPlanner
from engine.store.database import FULL_MESSAGE

ROOT = Path(__file__).resolve().parents[2]
N_CTX = 512
SYSTEM = "You are Hearth, a friendly assistant."
STORY = "Write a long story about a lighthouse keeper and the sea."
BROKE_OFF = "The connection to the model server broke off in the middle of the answer."


def greedy(max_tokens: int) -> Sampling:
    return Sampling(temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=1)


def starter_plan(model: Path):
    return local_plan(model, n_ctx=N_CTX, n_threads=2, n_gpu_layers=0, seed=7)


@pytest.fixture(scope="module")
def endpoint(starter_model, tmp_path_factory):
    """One engine host for the stories that leave it running."""
    opened = open_endpoint(starter_plan(starter_model), log_dir=tmp_path_factory.mktemp("engine-log"))
    yield opened
    opened.close()


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "hearth.sqlite3") as opened:
        yield opened


@pytest.fixture
def planner(store, tmp_path):
    return RecordingPlanner(store, tmp_path / "attachments")


def new_chat(store: Store, question: str) -> int:
    chat = store.create_conversation("A story", system_prompt=SYSTEM).id
    store.add_message(chat, "user", question)
    return chat


def ask(store: Store, endpoint, planner, chat: int, question: str, sampling: Sampling, cancel=None):
    """Add the question, answer it, and return (answer id, every event)."""
    store.add_message(chat, "user", question)
    reply = begin_answer(store, chat)
    return reply.id, list(answer(store, endpoint, planner, reply.id, sampling, cancel))


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, AnswerDelta))


def assert_complete(store: Store, answer_id: int, events) -> None:
    assert isinstance(events[-1], AnswerFinished) and events[-1].state == "complete", events[-1]
    saved = store.get_message(answer_id)
    assert saved.state == "complete" and saved.content == text_of(events) and saved.content.strip()


# -- 1 ---------------------------------------------------------------------------------------
def test_a_complete_answer_is_reported_in_order_and_saved_with_its_figures(store, endpoint, planner):
    chat = store.create_conversation("Greetings", system_prompt=SYSTEM).id

    answer_id, events = ask(store, endpoint, planner, chat, "Say hello and introduce yourself.", greedy(24))

    planned, *deltas, finished = events
    assert isinstance(planned, AnswerPlanned)
    assert (planned.message_id, planned.dropped, planned.n_ctx, planned.fits) == (answer_id, 0, N_CTX, True)
    assert planned.prompt_tokens > 0
    assert deltas and all(isinstance(d, AnswerDelta) and d.message_id == answer_id for d in deltas)
    assert isinstance(finished, AnswerFinished)
    assert (finished.message_id, finished.state, finished.model) == (answer_id, "complete", endpoint.label)
    assert finished.stats.finish_reason in ("stop", "length")
    assert len(deltas) <= finished.stats.completion_tokens <= 24

    saved = store.get_message(answer_id)
    assert saved.content == "".join(d.text for d in deltas) and saved.content.strip()
    assert saved.state == "complete" and saved.error is None
    assert saved.model == endpoint.label == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert saved.completion_tokens == finished.stats.completion_tokens
    assert saved.tokens_per_second == pytest.approx(finished.stats.tokens_per_second) and saved.tokens_per_second > 0
    assert saved.prompt_ms > 0 and saved.decode_ms > 0
    assert [m.role for m in store.messages(chat)] == ["user", "assistant"]


# -- 2 ---------------------------------------------------------------------------------------
def test_stop_mid_answer_keeps_the_words_so_far_and_the_engine_answers_the_next_question(store, endpoint, planner):
    """The user presses Stop (on the GUI thread) while a worker thread streams the answer."""
    chat = new_chat(store, STORY)
    reply = begin_answer(store, chat)
    cancel = Cancel()
    events: list = []
    some_words = threading.Event()

    def worker() -> None:
        for event in answer(store, endpoint, planner, reply.id, greedy(400), cancel):
            events.append(event)
            if sum(isinstance(e, AnswerDelta) for e in events) >= 3:
                some_words.set()
        some_words.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    assert some_words.wait(120), "no words came"
    deltas_when_stopped = sum(isinstance(e, AnswerDelta) for e in events)
    cancel.cancel()
    thread.join(30)
    assert not thread.is_alive(), "the answer did not stop"

    last = events[-1]
    assert isinstance(last, (AnswerFinished, AnswerFailed)) and last.state == "interrupted", last
    deltas = [e for e in events if isinstance(e, AnswerDelta)]
    assert deltas_when_stopped >= 3 and len(deltas) <= deltas_when_stopped + 2, "it went on after Stop"
    saved = store.get_message(reply.id)
    assert saved.state == "interrupted"
    assert saved.content == text_of(events) and saved.content.strip()
    if isinstance(last, AnswerFinished):  # the usual end; a Stop landing mid-request may end it as a failure
        assert last.stats.finish_reason == "cancelled"
        assert saved.completion_tokens == last.stats.completion_tokens == endpoint.client.count_tokens(saved.content)

    next_id, next_events = ask(store, endpoint, planner, chat, "Say hello.", greedy(16))
    assert_complete(store, next_id, next_events)
    assert [m.state for m in store.messages(chat)] == ["complete", "interrupted", "complete", "complete"]


# -- 3 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("when", ["before the answer starts", "once the prompt is planned"])
def test_stop_before_the_first_word_keeps_the_answer_marked_and_asks_the_engine_nothing(
        store, endpoint, planner, monkeypatch, when):
    requests = []
    real_stream = endpoint.client.stream
    monkeypatch.setattr(endpoint.client, "stream", lambda *a, **k: requests.append(a) or real_stream(*a, **k))
    chat = new_chat(store, STORY)
    reply = begin_answer(store, chat)
    cancel = Cancel()
    if when == "before the answer starts":
        cancel.cancel()

    events = []
    started = time.monotonic()
    for event in answer(store, endpoint, planner, reply.id, greedy(200), cancel):
        events.append(event)
        if isinstance(event, AnswerPlanned):
            cancel.cancel()
    assert time.monotonic() - started < 10

    expected_planned = 1 if when == "once the prompt is planned" else 0
    assert [type(e) for e in events] == [AnswerPlanned] * expected_planned + [AnswerFailed]
    assert events[-1] == AnswerFailed(reply.id, STOPPED_EARLY, "interrupted")
    assert requests == [], "the engine was asked to generate"
    saved = store.get_message(reply.id)
    assert (saved.state, saved.content, saved.error) == ("interrupted", "", STOPPED_EARLY)


# -- 4 ---------------------------------------------------------------------------------------
def test_the_growing_answer_is_in_the_database_while_it_streams(store, endpoint, planner):
    """Another connection (another process, or the app after a crash) reads the partial answer."""
    chat = new_chat(store, STORY)
    observer = Store(store.path)  # opened before the answer begins: opening marks 'streaming' rows as cut off
    try:
        reply = begin_answer(store, chat)
        received, seen, first_word_at = "", None, None
        for event in answer(store, endpoint, planner, reply.id, greedy(250)):
            if isinstance(event, AnswerDelta):
                received += event.text
                first_word_at = first_word_at or time.monotonic()
                if seen is None and time.monotonic() - first_word_at > SAVE_EVERY_S + 0.3:
                    seen, received_then = observer.get_message(reply.id), received
        assert seen is not None, "the answer ended before it had streamed for a while"
        assert isinstance(event, AnswerFinished) and event.state == "complete", event
        assert seen.state == "streaming"
        assert seen.content.strip(), "nothing of the growing answer was saved while it streamed"
        assert received_then.startswith(seen.content)
        final = observer.get_message(reply.id)
        assert final.state == "complete" and final.content == received
        assert len(final.content) > len(seen.content)
    finally:
        observer.close()


# -- 5 ---------------------------------------------------------------------------------------
def test_the_engine_killed_mid_answer_keeps_the_words_and_says_the_connection_broke(
        store, planner, starter_model, tmp_path):
    own = open_endpoint(starter_plan(starter_model), log_dir=tmp_path / "engine-log")
    try:
        chat = new_chat(store, STORY)
        reply = begin_answer(store, chat)
        events = []
        started = time.monotonic()
        for event in answer(store, own, planner, reply.id, greedy(400)):
            events.append(event)
            if sum(isinstance(e, AnswerDelta) for e in events) == 3 and isinstance(event, AnswerDelta):
                os.kill(own.host.pid, signal.SIGKILL)
        assert time.monotonic() - started < 120
        deadline = time.monotonic() + 10
        while own.host.is_alive() and time.monotonic() < deadline:  # reaped by the host's watcher thread
            time.sleep(0.05)
        assert not own.host.is_alive()
    finally:
        own.close()

    last = events[-1]
    assert isinstance(last, AnswerFailed), last
    assert (last.message_id, last.message, last.state) == (reply.id, BROKE_OFF, "interrupted")
    assert not any(isinstance(e, AnswerFinished) for e in events)
    saved = store.get_message(reply.id)
    assert (saved.state, saved.error) == ("interrupted", BROKE_OFF)
    assert saved.content == text_of(events) and saved.content.strip()


# -- 6 ---------------------------------------------------------------------------------------
DISK_FULL_CHILD = textwrap.dedent(r"""
    import json, os, resource, signal, sys
    db, root, model, log_dir = sys.argv[1:5]
    sys.path.insert(0, root)
    from pathlib import Path
    from engine.chat import PromptPlanner, answer, begin_answer
    from engine.chat.events import AnswerDelta, AnswerFailed
    from engine.llm.client import Sampling
    from engine.llm.endpoint import local_plan, open_endpoint
    from engine.store import Store

    # The engine host starts first: a file size limit is inherited, and the host is not the one saving.
    endpoint = open_endpoint(local_plan(Path(model), n_ctx=512, n_threads=2, n_gpu_layers=0, seed=7),
                             log_dir=Path(log_dir))
    try:
        store = Store(db)
        chat = store.create_conversation("Before the disk filled up", system_prompt="You tell stories.")
        for i in range(3):
            store.add_message(chat.id, "user", f"earlier question {i}")
            store.add_message(chat.id, "assistant", f"earlier answer {i}")
        store.add_message(chat.id, "user", "Write a long story about a lighthouse keeper and the sea.")
        reply = begin_answer(store, chat.id)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        events = []
        for event in answer(store, endpoint, PromptPlanner(store, Path(log_dir)), reply.id,
                            Sampling(temperature=0.0, top_p=1.0, max_tokens=200, seed=1)):
            events.append(event)
            if sum(isinstance(e, AnswerDelta) for e in events) == 3 and isinstance(event, AnswerDelta):
                # The disk fills up while the answer streams: the next saves no longer fit.
                used = max(os.path.getsize(db + s) for s in ("", "-wal", "-shm") if os.path.exists(db + s))
                resource.setrlimit(resource.RLIMIT_FSIZE, (used + 8 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        try:
            store.close()
        except Exception:
            pass
        last = events[-1]
        print(json.dumps({"conversation": chat.id, "answer": reply.id, "last": type(last).__name__,
                          "message": getattr(last, "message", ""), "state": last.state,
                          "received": "".join(e.text for e in events if isinstance(e, AnswerDelta)),
                          "host_alive": endpoint.host.is_alive()}))
    finally:
        endpoint.close()
""")


@pytest.fixture(scope="module")
def disk_full(starter_model, tmp_path_factory) -> dict:
    """The story runs once, in a child process (the limit must not reach this one); two tests read it."""
    where = tmp_path_factory.mktemp("disk-full")
    db = where / "hearth.sqlite3"
    done = subprocess.run([sys.executable, "-c", DISK_FULL_CHILD, str(db), str(ROOT), str(starter_model),
                           str(where / "engine-log")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]), db=db)


def test_a_full_disk_while_the_answer_is_saved_tells_the_user_and_loses_nothing_earlier(disk_full):
    result = disk_full
    assert result["last"] == "AnswerFailed", result
    assert result["message"].startswith("The answer could not be saved: " + FULL_MESSAGE), result["message"]
    assert result["state"] == "interrupted" and result["received"].strip()
    assert result["host_alive"], "the engine is not harmed by the disk"

    with Store(result["db"]) as reopened:
        assert reopened.integrity_check() == "ok"
        messages = reopened.messages(result["conversation"])
        earlier = [(m.role, m.content) for m in messages[:7]]
        assert earlier == [r for i in range(3) for r in (("user", f"earlier question {i}"),
                                                         ("assistant", f"earlier answer {i}"))] + [
            ("user", "Write a long story about a lighthouse keeper and the sea.")]
        kept = reopened.get_message(result["answer"])
        assert len(messages) == 8 and messages[-1].id == kept.id
        assert kept.state == "interrupted", "the cut-off answer is marked when the history is opened again"
        assert result["received"].startswith(kept.content), "what was saved before the disk filled is kept"


def test_a_full_disk_is_explained_once(disk_full):
    assert disk_full["message"].count(FULL_MESSAGE) == 1, disk_full["message"]


# -- 7 ---------------------------------------------------------------------------------------
def test_a_chat_longer_than_the_window_drops_its_oldest_turns_keeps_the_system_prompt_and_answers(
        store, endpoint, planner):
    chat = store.create_conversation("A long chat", system_prompt=SYSTEM).id
    for i in range(40):
        store.add_message(chat, "user", f"Question {i}: what colour is the number {i} in my list of favourite things?")
        store.add_message(chat, "assistant", f"Answer {i}: the number {i} is the colour of a quiet morning sea.")
    history = len(store.messages(chat))

    first_id, first_events = ask(store, endpoint, planner, chat, "Say hello.", greedy(32))
    first = first_events[0]
    assert isinstance(first, AnswerPlanned)
    assert first.fits and first.dropped > 0 and first.n_ctx == N_CTX
    assert first.prompt_tokens <= N_CTX - 32
    assert_complete(store, first_id, first_events)
    prompt = planner.prompts[-1].messages
    assert prompt[0] == {"role": "system", "content": SYSTEM}
    assert prompt[1]["role"] == "user", "the kept history begins with a question"
    assert prompt[-1] == {"role": "user", "content": "Say hello."}
    assert len(prompt) == 1 + (history + 1) - first.dropped

    second_id, second_events = ask(store, endpoint, planner, chat, "Say goodbye.", greedy(32))
    second = second_events[0]
    assert isinstance(second, AnswerPlanned) and second.fits
    assert second.dropped == first.dropped, "the prompt keeps its beginning until it overflows again"
    assert planner.prompts[-1].messages[:len(prompt)] == prompt, "the same beginning: the engine reuses its cache"
    assert_complete(store, second_id, second_events)


# -- 8 ---------------------------------------------------------------------------------------
TOO_LONG = "Please read this carefully. " + "word " * 1500


def test_a_question_longer_than_the_window_fails_without_words_and_the_chat_goes_on(store, endpoint, planner):
    chat = store.create_conversation("Too long", system_prompt=SYSTEM).id

    answer_id, events = ask(store, endpoint, planner, chat, TOO_LONG, greedy(32))

    planned, failed = events  # no words at all
    assert isinstance(planned, AnswerPlanned) and not planned.fits and planned.prompt_tokens > N_CTX
    assert isinstance(failed, AnswerFailed) and failed.state == "error" and failed.message
    saved = store.get_message(answer_id)
    assert (saved.state, saved.content, saved.error) == ("error", "", failed.message)

    next_id, next_events = ask(store, endpoint, planner, chat, "Say hello.", greedy(16))
    assert next_events[0].fits and next_events[0].dropped == 1, "the long question leaves the prompt"
    assert_complete(store, next_id, next_events)


def test_a_question_longer_than_the_window_is_explained_as_too_long(store, endpoint, planner):
    chat = store.create_conversation("Too long", system_prompt=SYSTEM).id

    _, events = ask(store, endpoint, planner, chat, TOO_LONG, greedy(32))

    message = events[-1].message.lower()
    assert "too long" in message or "context window" in message, events[-1].message
