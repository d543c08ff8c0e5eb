"""Calls in a model's own syntax become OpenAI `tool_calls` in Hearth's engine host. The bundled
model cannot choose to call a tool, so llama.cpp's grammar makes it write each family's form
for real, through the real host; and a named `tool_choice` makes it call the calculator, whose
result the model then answers from."""
from __future__ import annotations

import json

import pytest

from engine.chat import AnswerFinished, PromptPlanner, answer, begin_answer
from engine.chat.events import ToolStepChanged
from engine.llm.client import ChatClient, Sampling
from engine.llm.endpoint import Endpoint, EndpointPlan
from engine.llm.native_tool_calls import ToolCallStream, parse_calls
from engine.store import Store
from engine.tools.approval import allow_only
from engine.tools.registry import ToolRegistry, ToolSettings
from tests.support.engine import shared_host  # noqa: F401 - fixture

CALC = {"type": "function", "function": {"name": "calculator", "description": "Exact arithmetic.",
                                         "parameters": {"type": "object", "properties": {
                                             "expression": {"type": "string"}}, "required": ["expression"]}}}
ARGS = {"expression": "2+2"}

FORMS = {
    "hermes / qwen": '<tool_call>\n{"name": "calculator", "arguments": {"expression": "2+2"}}\n</tool_call>',
    "llama 3 python_tag": '<|python_tag|>{"name": "calculator", "parameters": {"expression": "2+2"}}',
    "llama 3 bare json": '{"name": "calculator", "parameters": {"expression": "2+2"}}',
    "llama 3.1 function tag": '<function=calculator>{"expression": "2+2"}</function>',
    "mistral list": '[TOOL_CALLS][{"name": "calculator", "arguments": {"expression": "2+2"}}]',
    "mistral args": '[TOOL_CALLS]calculator[ARGS]{"expression": "2+2"}',
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_each_family_form_parses_to_the_same_call(form):
    [call] = parse_calls(form)
    assert call.name == "calculator" and json.loads(call.arguments) == ARGS


def test_words_before_a_call_stream_and_a_mark_split_across_chunks_is_caught():
    stream = ToolCallStream()
    text = 'Let me check. <tool_call>{"name": "calculator", "arguments": {"expression": "2+2"}}</tool_call>'
    shown = "".join(stream.feed(text[i:i + 3]) for i in range(0, len(text), 3))
    rest, calls = stream.finish()
    assert shown + rest == "Let me check. " and [c.name for c in calls] == ["calculator"]


@pytest.mark.parametrize("text", [
    "Use <tool_call> tags to call tools.",          # a mention, not a call
    "<tool_call>{not json}</tool_call>",
    '{"answer": 4}',                                 # JSON, but no call
    "[1, 2, 3] are the first numbers.",
])
def test_text_that_is_not_a_call_comes_back_whole(text):
    stream = ToolCallStream()
    shown = stream.feed(text)
    rest, calls = stream.finish()
    assert shown + rest == text and calls == []


def grammar_for(text: str) -> str:
    """A GBNF grammar whose only sentence is `text`."""
    return "root ::= " + json.dumps(text)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hermes / qwen", "llama 3 bare json", "llama 3.1 function tag", "mistral list"])
def test_the_engine_host_returns_a_model_written_call_as_tool_calls(shared_host, name):
    """The model writes the family's form (forced by a grammar); the host hands back tool_calls."""
    client = ChatClient(shared_host.base_url, shared_host.api_key, model="starter")
    try:
        reply = client._client.chat.completions.create(
            model="starter", messages=[{"role": "user", "content": "What is 2+2?"}], tools=[CALC],
            max_tokens=80, temperature=0, extra_body={"grammar": grammar_for(FORMS[name])})
    finally:
        client.close()
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    [call] = choice.message.tool_calls
    assert call.function.name == "calculator" and json.loads(call.function.arguments) == ARGS
    assert not (choice.message.content or "").strip()


@pytest.mark.slow
def test_streamed_native_calls_arrive_as_structured_calls_through_the_client(shared_host):
    import openai

    raw = openai.OpenAI(base_url=shared_host.base_url, api_key=shared_host.api_key)
    form = "Sure. " + FORMS["hermes / qwen"]
    stream = raw.chat.completions.create(
        model="starter", messages=[{"role": "user", "content": "2+2?"}], tools=[CALC], stream=True,
        max_tokens=80, temperature=0, extra_body={"grammar": grammar_for(form)})
    text, pieces, finish = "", [], None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        pieces += delta.tool_calls or []
        finish = chunk.choices[0].finish_reason or finish
    assert text == "Sure. " and finish == "tool_calls"
    assert [p.function.name for p in pieces] == ["calculator"] and json.loads(pieces[0].function.arguments) == ARGS


@pytest.mark.slow
def test_a_named_tool_choice_makes_the_bundled_model_call_the_calculator_and_answer(shared_host, tmp_path):
    """The real engine path end to end: llama.cpp's grammar writes the arguments, the host returns
    the call, the calculator runs, the model reads the result and answers."""
    store = Store(tmp_path / "history.sqlite3")
    client = ChatClient(shared_host.base_url, shared_host.api_key, model="starter")
    endpoint = Endpoint(EndpointPlan(local=shared_host.config), client, shared_host)
    chat = store.create_conversation("Sums")
    store.add_message(chat.id, "user", "What is 12 times 12?")
    reply = begin_answer(store, chat.id)
    registry = ToolRegistry.build(ToolSettings(enabled=("calculator",)))
    try:
        events = list(answer(store, endpoint, PromptPlanner(store, tmp_path), reply.id,
                             Sampling(temperature=0, max_tokens=160, seed=1), tools=registry,
                             approver=allow_only(["calculator"]),
                             tool_choice={"type": "function", "function": {"name": "calculator"}}))
    finally:
        client.close()
    steps = [e.step for e in events if isinstance(e, ToolStepChanged)]
    assert steps and steps[-1].name == "calculator" and steps[-1].state in ("done", "failed")
    assert steps[-1].arguments.lstrip().startswith('{"expression"') or steps[-1].arguments.lstrip().startswith(
        '{ "expression"'), steps[-1].arguments  # the grammar followed the calculator's schema
    assert steps[-1].result, "the calculator gave no result (not even why it could not run)"
    assert isinstance(events[-1], AnswerFinished) and events[-1].state == "complete"
    [saved] = store.tool_steps_for([reply.id])[reply.id]
    assert saved.result == steps[-1].result
    store.close()
