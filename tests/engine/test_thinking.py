"""A reasoning model's thought, wherever it comes from, is told apart from its answer, saved apart,
and never sent back to the model; a scripted OpenAI-compatible server plays each form over HTTP."""
from __future__ import annotations

import pytest

from engine.chat import AnswerFinished, PromptPlanner, answer, begin_answer
from engine.chat.events import AnswerDelta, AnswerRetracted, ThinkingDelta
from engine.llm.client import Sampling
from engine.llm.endpoint import EndpointPlan, open_endpoint
from engine.llm.thinking import ThinkSplitter
from engine.store import Store
from tests.support.openai_server import scripted_server

FORMS = {
    "think tags": "<think>The user wants a colour. Blue is calm.</think>\nBlue.",
    "no opening tag (the template opened it)": "The user wants a colour. Blue is calm.</think>\n\nBlue.",
    "vLLM reasoning_content": {"reasoning": "The user wants a colour. Blue is calm.", "content": "Blue."},
    "gpt-oss analysis channel": "<|channel|>analysis<|message|>The user wants a colour. Blue is calm.<|end|>"
                                "<|start|>assistant<|channel|>final<|message|>Blue.",
    "Ollama reasoning": {"reasoning": "The user wants a colour. Blue is calm.", "content": "Blue.",
                         "field": "reasoning"},
}


@pytest.fixture
def chat(tmp_path):
    with scripted_server(["qwen3-8b"]) as server:
        store = Store(tmp_path / "history.sqlite3")
        endpoint = open_endpoint(EndpointPlan(remote_url=server.base_url))
        yield server, store, endpoint, PromptPlanner(store, tmp_path), store.create_conversation("Colours").id
        endpoint.close()
        store.close()


def ask(chat, question: str):
    server, store, endpoint, planner, conversation_id = chat
    store.add_message(conversation_id, "user", question)
    reply = begin_answer(store, conversation_id)
    return reply.id, list(answer(store, endpoint, planner, reply.id, Sampling(max_tokens=64)))


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_each_form_of_thinking_is_kept_apart_and_never_sent_back(chat, form):
    server, store = chat[0], chat[1]
    server.replies = [form, "Green is nice too."]
    answer_id, events = ask(chat, "Pick a colour")

    shown = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    for e in events:
        if isinstance(e, AnswerRetracted):
            shown = shown.replace(e.text, "", 1)
    thought = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    assert shown.strip() == "Blue." and "Blue is calm." in thought
    assert isinstance(events[-1], AnswerFinished)
    assert store.get_message(answer_id).content.strip() == "Blue."
    saved = store.thinking_for([answer_id])[answer_id]
    assert saved.text.strip() == "The user wants a colour. Blue is calm." and saved.seconds is not None
    assert store.search("calm") == [], "search must find answers, not thoughts"

    ask(chat, "Another?")
    sent = server.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"].strip() == "Blue." and "calm" not in str(sent), "the thought went back to the model"


@pytest.mark.parametrize("text", [
    "<think>Hmm, 2+2.</think>\nIt is 4.",
    "<|channel|>analysis<|message|>Hmm, 2+2.<|end|><|start|>assistant<|channel|>final<|message|>It is 4.",
], ids=["think tags", "gpt-oss channels"])
def test_a_thought_split_across_chunks_at_every_point_comes_apart_the_same(text):
    for cut in range(1, len(text)):
        splitter = ThinkSplitter()
        parts = [splitter.feed(text[:cut]), splitter.feed(text[cut:]), splitter.finish()]
        assert "".join(p.thinking for p in parts) == "Hmm, 2+2." and "".join(p.answer for p in parts) == "It is 4.", cut


def test_an_answer_without_thinking_streams_untouched():
    splitter = ThinkSplitter()
    text = "Plain words, a <b>tag</b> and a < sign."
    out = "".join(splitter.feed(text[i:i + 4]).answer for i in range(0, len(text), 4)) + splitter.finish().answer
    assert out == text


def ask_thinking(chat, question: str, level: str):
    from engine.chat.think_budget import ThinkLevel, think_plan

    server, store, endpoint, planner, conversation_id = chat
    store.add_message(conversation_id, "user", question)
    reply = begin_answer(store, conversation_id)
    events = list(answer(store, endpoint, planner, reply.id, Sampling(max_tokens=64),
                         think=think_plan(ThinkLevel(level))))
    return reply.id, events


@pytest.mark.parametrize("field", [None, "reasoning_content"], ids=["think tags", "reasoning_content"])
def test_a_thought_that_never_ends_is_closed_at_the_budget_and_the_model_answers_from_it(chat, field):
    from engine.chat.think_budget import BUDGETS, ThinkLevel

    server, store = chat[0], chat[1]
    server.replies = [{"endless_thought": "hmm", "field": field}, "So: blue."]
    answer_id, events = ask_thinking(chat, "Pick a colour", "short")

    assert isinstance(events[-1], AnswerFinished)
    assert store.get_message(answer_id).content == "So: blue."
    saved = store.thinking_for([answer_id])[answer_id]
    budget = BUDGETS[ThinkLevel.SHORT]
    assert budget <= saved.tokens <= budget + 8, "the thought stops at its budget"
    closing = server.requests[1]
    assert closing["continue_final_message"] is True and closing["add_generation_prompt"] is False
    last = closing["messages"][-1]
    assert last["role"] == "assistant" and last["content"].startswith("<think>\nhmm hmm")
    assert last["content"].endswith("hmm\n</think>\n\n"), "the engine closes the thought for the model"
    assert closing["messages"][:-1] == server.requests[0]["messages"], "the same question, continued"
    assert events[-1].stats.completion_tokens >= budget, "the thought's tokens count in the answer's figures"


def test_off_asks_a_remote_server_not_to_think_and_still_bounds_a_stubborn_one(chat):
    server, store = chat[0], chat[1]
    server.replies = [{"endless_thought": "hmm", "field": "reasoning_content"}, "Blue."]
    answer_id, events = ask_thinking(chat, "Pick a colour", "off")
    assert server.requests[0]["chat_template_kwargs"] == {"enable_thinking": False}
    assert store.get_message(answer_id).content == "Blue." and len(server.requests) == 2


def test_unlimited_lets_the_model_think_to_its_own_end(chat):
    server, store = chat[0], chat[1]
    long_thought = " ".join(["step"] * 900)
    server.replies = [{"reasoning": long_thought, "content": "Blue."}]
    answer_id, _ = ask_thinking(chat, "Pick a colour", "unlimited")
    assert len(server.requests) == 1 and "chat_template_kwargs" not in server.requests[0]
    assert store.get_message(answer_id).content.strip() == "Blue."
    assert store.thinking_for([answer_id])[answer_id].tokens == 900
