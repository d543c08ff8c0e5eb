"""A final assistant message continued, not answered: the engine host's form of "prefill".

When a chat request ends with the assistant's own turn, the model goes on from its last word
(as llama.cpp's own server, vLLM's `continue_final_message` and Ollama do): the think budget
closes a thought this way, with `</think>` written after it, and Off writes an empty thought.
llama_cpp.server would instead open a new assistant turn after it. Only the engine host installs
this (in its own process).
"""
from __future__ import annotations

import dataclasses

THINK_OPEN = "<think>"


def continuing(render):  # noqa: ANN001, ANN201 - wraps Jinja2ChatFormatter.__call__
    def render_continuing(self, *, messages, **kwargs):  # noqa: ANN001, ANN202
        last = messages[-1] if messages else None
        if not (isinstance(last, dict) and last.get("role") == "assistant" and not last.get("tool_calls")
                and isinstance(last.get("content"), str) and len(messages) > 1):
            return render(self, messages=messages, **kwargs)
        head = render(self, messages=messages[:-1], **kwargs)
        return dataclasses.replace(head, prompt=head.prompt + after_generation_prompt(head.prompt, last["content"]))

    render_continuing.__wrapped__ = render
    return render_continuing


def after_generation_prompt(prompt: str, words: str) -> str:
    """The words to write after the template's generation prompt: a template that already opened
    the thought (DeepSeek-R1's ends with `<think>\\n`) must not get a second opening tag."""
    if words.startswith(THINK_OPEN) and prompt.rstrip().endswith(THINK_OPEN):
        return words[len(THINK_OPEN):].lstrip("\n")
    return words


def install() -> None:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    if not hasattr(Jinja2ChatFormatter.__call__, "__wrapped__"):
        Jinja2ChatFormatter.__call__ = continuing(Jinja2ChatFormatter.__call__)
