"""What every tool is: a name, a description and a JSON schema the model sees, and a `run` that
turns arguments into a result. Results are untrusted text, like the model's own words."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.cancel import Cancel

RESULT_BUDGET = 8000  # characters of a result fed back to the model (the rest is cut, and says so)


@dataclass(frozen=True)
class ToolSpec:
    name: str             # 'calculator', 'python', 'files', 'fetch', or an MCP server's tool
    description: str      # for the model: what it does and when to use it
    parameters: dict[str, Any] = field(hash=False)   # JSON schema of the arguments

    def openai_tool(self) -> dict:
        """The entry for a chat request's `tools=`."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


@dataclass(frozen=True)
class ToolResult:
    text: str                # what goes back to the model (and what the transcript shows)
    ok: bool = True          # False: a refusal or failure, explained in `text`
    elapsed_s: float = 0.0
    truncated: bool = False  # `text` was cut to the budget


class Tool(Protocol):
    spec: ToolSpec

    def run(self, arguments: dict[str, Any], cancel: Cancel) -> ToolResult:
        """Never raises for a bad argument or a failure: the result says why."""
        ...


def truncate(text: str, budget: int = RESULT_BUDGET) -> tuple[str, bool]:
    """Cut to the budget, keeping the start and the end (where errors and results usually are)."""
    if len(text) <= budget:
        return text, False
    head = budget * 2 // 3
    tail = budget - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n… [{cut} characters cut] …\n{text[-tail:]}", True
