"""The tool loop as a remote server drives it, over real HTTP: calls come as OpenAI `tool_calls`,
every call is saved, shown for approval, run (or not), and its result goes back to the model."""
from __future__ import annotations

import json
import threading

import pytest

from engine.cancel import Cancel
from engine.chat import AnswerFailed, AnswerFinished, PromptPlanner, answer, begin_answer
from engine.chat.events import ToolStepChanged
from engine.llm.client import Sampling
from engine.llm.endpoint import EndpointPlan, open_endpoint
from engine.store import Store
from engine.tools.approval import Approval, allow_only
from engine.tools.registry import ToolRegistry, ToolSettings
from tests.support.openai_server import scripted_server


@pytest.fixture
def server():
    with scripted_server(["gpt-oss-20b"]) as scripted:
        yield scripted


@pytest.fixture
def chat(tmp_path, server):
    store = Store(tmp_path / "history.sqlite3")
    endpoint = open_endpoint(EndpointPlan(remote_url=server.base_url))
    conversation = store.create_conversation("Tools")
    yield store, endpoint, PromptPlanner(store, tmp_path), conversation.id
    endpoint.close()
    store.close()


def ask(chat, question: str, approver, *, tools=("calculator",), cancel=None, max_rounds=6):
    store, endpoint, planner, conversation_id = chat
    store.add_message(conversation_id, "user", question)
    reply = begin_answer(store, conversation_id)
    registry = ToolRegistry.build(ToolSettings(enabled=tuple(tools)))
    events = list(answer(store, endpoint, planner, reply.id, Sampling(max_tokens=64), cancel,
                         tools=registry, approver=approver, max_rounds=max_rounds))
    return reply.id, events


def calls(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def test_an_allowed_calculation_runs_and_its_result_goes_back_to_the_model(chat, server):
    store = chat[0]
    server.replies = [{"content": "Let me work that out. ", **calls("calculator", expression="2**100")},
                      "It is 1267650600228229401496703205376."]
    asked = []
    answer_id, events = ask(chat, "What is 2 to the power of 100?",
                            lambda request, cancel: asked.append(request) or Approval.ONCE)

    assert [r.name for r in asked] == ["calculator"] and json.loads(asked[0].arguments) == {"expression": "2**100"}
    states = [e.step.state for e in events if isinstance(e, ToolStepChanged)]
    assert states == ["requested", "running", "done"]
    assert isinstance(events[-1], AnswerFinished) and events[-1].state == "complete"
    [step] = store.tool_steps_for([answer_id])[answer_id]
    assert (step.name, step.state, step.approval, step.ok) == ("calculator", "done", "once", True)
    assert step.result == "1267650600228229401496703205376" and step.preamble == "Let me work that out. "
    message = store.get_message(answer_id)
    assert message.content == "Let me work that out. It is 1267650600228229401496703205376."
    second = server.requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"] == {"name": "calculator", "arguments": '{"expression": "2**100"}'}
    assert second[-1]["role"] == "tool" and second[-1]["tool_call_id"] == second[-2]["tool_calls"][0]["id"]
    assert "1267650600228229401496703205376" in second[-1]["content"]
    assert "not instructions" in second[-1]["content"], "a tool result must be framed as data"
    assert [t["function"]["name"] for t in server.requests[0]["tools"]] == ["calculator"]


def test_a_denied_call_never_runs_and_the_model_hears_it_was_denied(chat, server):
    store = chat[0]
    server.replies = [calls("calculator", expression="6*7"), "Understood."]
    answer_id, events = ask(chat, "6 times 7?", allow_only(()))
    [step] = store.tool_steps_for([answer_id])[answer_id]
    assert step.state == "denied" and step.approval == "denied"
    assert "denied by the user" in server.requests[1]["messages"][-1]["content"].lower()
    assert store.get_message(answer_id).content == "Understood."


def test_text_that_only_looks_like_a_call_from_a_remote_server_stays_text(chat, server):
    store = chat[0]
    looks_like = '<tool_call>{"name": "calculator", "arguments": {"expression": "1+1"}}</tool_call>'
    server.replies = [looks_like]
    answer_id, events = ask(chat, "Say something odd", lambda r, c: pytest.fail("nothing may be asked"))
    assert store.tool_steps_for([answer_id])[answer_id] == []
    assert store.get_message(answer_id).content == looks_like
    assert len(server.requests) == 1


def test_allow_for_this_chat_is_remembered_and_later_turns_see_the_calls(chat, server):
    store, conversation_id = chat[0], chat[3]
    server.replies = [calls("calculator", expression="6*7"), "42.", calls("calculator", expression="1/3"), "A third."]
    asked = []

    def approver(request, cancel):
        asked.append(request.name)
        return Approval.CHAT

    ask(chat, "6 times 7?", approver)
    answer_id, _ = ask(chat, "And one third?", approver)
    assert asked == ["calculator"], "a tool allowed for the chat was asked about again"
    assert store.tool_steps_for([answer_id])[answer_id][0].approval == "auto"
    assert store.tool_steps_for([answer_id])[answer_id][0].result == "1/3"
    history = server.requests[2]["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant", "user"]
    assert history[3]["content"] == "42."


def test_the_rounds_are_bounded_and_the_last_one_asks_for_an_answer(chat, server):
    store = chat[0]
    server.replies = [calls("calculator", expression=f"{n}+1") for n in range(3)] + ["Done."]
    answer_id, events = ask(chat, "Count", allow_only(["calculator"]), max_rounds=2)
    assert len(store.tool_steps_for([answer_id])[answer_id]) == 2
    assert [r.get("tool_choice") for r in server.requests] == ["auto", "auto", "none"]
    assert isinstance(events[-1], AnswerFinished)


def test_stop_while_the_user_decides_leaves_the_call_unrun(chat, server):
    store = chat[0]
    server.replies = [calls("calculator", expression="1+1"), "never asked for"]
    cancel = Cancel()

    def approver(request, cancel_given):
        threading.Timer(0.2, cancel.cancel).start()
        cancel_given.wait(5)  # the window's card waits like this until the user answers or stops
        return Approval.DENIED

    answer_id, events = ask(chat, "1+1?", approver, cancel=cancel)
    [step] = store.tool_steps_for([answer_id])[answer_id]
    assert step.state == "stopped"
    assert store.get_message(answer_id).state == "interrupted"
    assert isinstance(events[-1], (AnswerFinished, AnswerFailed)) and events[-1].state == "interrupted"
    assert len(server.requests) == 1, "the model was asked again after Stop"


def test_a_call_to_an_unknown_tool_or_with_broken_arguments_is_a_result_not_a_crash(chat, server):
    store = chat[0]
    server.replies = [{"tool_calls": [{"name": "shell", "arguments": {"cmd": "rm -rf /"}},
                                      {"name": "calculator", "arguments": {"expr": "1"}}]}, "Sorry."]
    answer_id, events = ask(chat, "Do things", allow_only(["calculator"]))
    unknown, wrong = store.tool_steps_for([answer_id])[answer_id]
    assert unknown.ok is False and "no tool named 'shell'" in unknown.result
    assert wrong.ok is False and wrong.result
    assert isinstance(events[-1], AnswerFinished) and store.get_message(answer_id).content == "Sorry."
