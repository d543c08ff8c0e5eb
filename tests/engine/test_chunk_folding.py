"""The host folds the tokens that are ready into one chunk; the text must come out the same."""
from __future__ import annotations

from engine.llm.host_main import merge_chunks


def chat(content=None, *, role=None, finish=None, logprobs=None) -> dict:
    delta = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]}


def text_of(chunks: list[dict]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_ready_tokens_become_one_chunk_with_the_same_text():
    chunks = [chat("Once"), chat(" upon"), chat(" a"), chat(" time")]
    merged = merge_chunks(chunks)
    assert len(merged) == 1
    assert text_of(merged) == "Once upon a time"


def test_the_role_chunk_opens_the_answer_and_the_finish_reason_ends_it():
    chunks = [chat(role="assistant"), chat("Hi"), chat("!"), chat(finish="stop")]
    merged = merge_chunks(chunks)
    assert merged[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi!"}
    assert merged[-1]["choices"][0]["finish_reason"] == "stop"
    assert text_of(merged) == "Hi!"


def test_chunks_with_logprobs_or_tool_calls_are_passed_on_untouched():
    with_logprobs = chat(" b", logprobs={"content": []})
    tool = chat()
    tool["choices"][0]["delta"] = {"tool_calls": [{"index": 0, "function": {"name": "f"}}]}
    chunks = [chat("a"), with_logprobs, tool, chat("c")]
    assert merge_chunks(chunks) == chunks


def test_nothing_is_merged_after_a_finished_choice():
    chunks = [chat("a", finish="length"), chat("b")]
    assert merge_chunks(chunks) == chunks


def test_plain_completions_fold_too():
    chunks = [{"id": "t", "object": "text_completion", "created": 1, "model": "m",
               "choices": [{"index": 0, "text": piece, "logprobs": None, "finish_reason": None}]}
              for piece in ("Hel", "lo")]
    merged = merge_chunks(chunks)
    assert len(merged) == 1 and merged[0]["choices"][0]["text"] == "Hello"
