"""What a chat template says about thinking: whether the model writes its thought in
`<think>` tags, and whether the template opens the tag itself (DeepSeek-R1 distills end the
generation prompt with `<think>\\n`, so the model's output begins inside the thought and only
`</think>` ever appears). Read by rendering the template once, sandboxed, as the host will."""
from __future__ import annotations

from dataclasses import dataclass

OPEN = "<think>"


@dataclass(frozen=True)
class TemplateThought:
    in_tags: bool = False        # the model thinks in <think>…</think>
    opened: bool = False         # the generation prompt already opened the thought


def template_thought(template: str | None) -> TemplateThought:
    if not template or OPEN not in template:
        return TemplateThought()
    return TemplateThought(True, generation_prompt(template).rstrip().endswith(OPEN))


def generation_prompt(template: str) -> str:
    """The end of a rendered prompt for one user message: what the model's answer follows."""
    try:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise
        rendered = env.from_string(template).render(
            messages=[{"role": "user", "content": "Hello"}], add_generation_prompt=True,
            bos_token="", eos_token="", tools=None)
    except Exception:  # noqa: BLE001 - an odd template: assume it opens nothing
        return ""
    return rendered[rendered.rfind("Hello") + len("Hello"):]


def _raise(message: str) -> None:
    raise ValueError(message)
