"""The context meter's reading: what the next request will hold, counted by the engine's own
tokenizer, equal to what the engine host itself counts for the prompt actually sent."""
from __future__ import annotations

import json
import urllib.request

import pytest

from engine.chat import PromptPlanner
from engine.llm.endpoint import EndpointPlan, local_plan, open_endpoint
from engine.store import Store
from tests.support.openai_server import scripted_server


@pytest.fixture(scope="module")
def endpoint(starter_model, tmp_path_factory):
    opened = open_endpoint(local_plan(starter_model, n_ctx=512, n_threads=2, n_gpu_layers=0, seed=7),
                           log_dir=tmp_path_factory.mktemp("engine-log"))
    yield opened
    opened.close()


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "hearth.sqlite3") as opened:
        yield opened


def chat_with_turns(store: Store, turns: int, words: int = 12) -> int:
    chat = store.create_conversation("Lighthouses", system_prompt="You are Hearth, a helpful assistant.")
    for n in range(turns):
        store.add_message(chat.id, "user", f"Question {n}: " + "tell me about the lighthouse keeper " * (words // 6))
        store.add_message(chat.id, "assistant", f"Answer {n}: " + "the keeper trims the lamp each night " * (words // 6))
    return chat.id


def host_prompt_tokens(endpoint, messages: list[dict]) -> int:
    """What the host itself says the prompt held (llama.cpp's usage figure), for the real request."""
    host = endpoint.host
    request = urllib.request.Request(
        host.base_url + "/chat/completions",
        data=json.dumps({"messages": messages, "max_tokens": 1, "temperature": 0}).encode(),
        headers={"Authorization": f"Bearer {host.api_key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["usage"]["prompt_tokens"]


def test_the_meter_counts_what_the_host_counts_for_the_prompt_it_is_sent(endpoint, store, tmp_path):
    chat = chat_with_turns(store, 3)
    planner = PromptPlanner(store, tmp_path)
    draft = "And who lit the lamp when the keeper was ill?"
    reading = planner.reading(endpoint, chat, draft, images=0, max_tokens=64)

    store.add_message(chat, "user", draft)  # now send it for real, as an answer would
    sent = planner.plan(endpoint, chat, answer_id=-1, max_tokens=64).messages
    prompt = reading.system + reading.history + reading.images + reading.draft
    assert prompt == host_prompt_tokens(endpoint, sent), "the meter shows the prompt the engine will read"
    assert reading.exact and reading.answer_room == 64 and reading.n_ctx == 512
    assert reading.pushes_out == 0 and not reading.over


def test_a_draft_that_will_push_old_turns_out_says_how_many(endpoint, store, tmp_path):
    chat = chat_with_turns(store, 6, words=24)
    planner = PromptPlanner(store, tmp_path)
    short = planner.reading(endpoint, chat, "Thanks!", images=0, max_tokens=64)
    long = planner.reading(endpoint, chat, "Describe the storm in detail. " * 25, images=0, max_tokens=64)
    assert long.draft > short.draft + 100
    assert long.pushes_out > short.pushes_out >= 0
    assert long.left_out_next > 0


def test_an_image_in_the_draft_is_counted(endpoint, store, tmp_path):
    chat = chat_with_turns(store, 1)
    planner = PromptPlanner(store, tmp_path)
    plain = planner.reading(endpoint, chat, "What is this?", images=0, max_tokens=64)
    pictured = planner.reading(endpoint, chat, "What is this?", images=1, max_tokens=64)
    assert pictured.images > plain.images == 0


def test_a_remote_server_without_a_token_count_gets_an_estimate_said_to_be_one(tmp_path):
    with scripted_server(["qwen3-8b"]) as server, Store(tmp_path / "h.sqlite3") as store:
        endpoint = open_endpoint(EndpointPlan(remote_url=server.base_url))
        try:
            chat = chat_with_turns(store, 2)
            reading = PromptPlanner(store, tmp_path).reading(endpoint, chat, "Hello", images=0, max_tokens=64)
        finally:
            endpoint.close()
    assert not reading.exact and reading.draft > 0 and reading.history > 0


def test_a_chat_that_answers_from_documents_keeps_room_for_the_passages_its_question_may_bring(endpoint, store, tmp_path):
    from engine.chat.excerpts import Retrieval
    from engine.chat.prompt import CHARS_PER_TOKEN

    chat = chat_with_turns(store, 4, words=24)
    planner = PromptPlanner(store, tmp_path)
    question = "When was the lighthouse on the point first lit?"
    plain = planner.reading(endpoint, chat, question, images=0, max_tokens=64)
    grounded = planner.reading(endpoint, chat, question, images=0, max_tokens=64, documents=True)
    assert plain.excerpts == 0 and grounded.excerpts > 0
    assert grounded.used > plain.used
    assert grounded.pushes_out > plain.pushes_out, "room for passages leaves less for old turns"
    assert planner.reading(endpoint, chat, "", images=0, max_tokens=64, documents=True).excerpts == 0, \
        "nothing typed: no question to bring passages"

    # The room kept is the room the question's retrieval is given once it is sent.
    store.add_message(chat, "user", question)
    asked: list[int] = []
    planner.retrieve(endpoint, chat, answer_id=-1, max_tokens=64,
                     retriever=lambda query, chars: asked.append(chars) or Retrieval((), ()))
    assert asked == [grounded.excerpts * CHARS_PER_TOKEN]
