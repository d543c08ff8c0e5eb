"""The tools an answer may use: built from the user's choices (which tools are on, which
folders are shared, the sandbox's limits), each looked up by the name the model calls."""
from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.cancel import Cancel
from engine.tools.base import RESULT_BUDGET, Tool, ToolResult, truncate

TOOL_NAMES = ("calculator", "python", "files", "fetch")


@dataclass(frozen=True)
class ToolSettings:
    enabled: tuple[str, ...] = ()
    folders: tuple[Path, ...] = ()        # shared with the `files` tool
    python_seconds: float = 10.0
    python_memory_mb: int = 256
    max_rounds: int = 6                   # model turns that may call tools in one answer
    scratch_dir: Path | None = None       # the Python sandbox's folder (per chat, when given)
    extra_tools: tuple = ()               # tools from MCP servers the user added
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {tool.spec.name: tool for tool in tools}
        self.unavailable: dict[str, str] = {}  # enabled tools that could not be made, and why

    @classmethod
    def build(cls, settings: ToolSettings, extra: Iterable[Tool] = ()) -> "ToolRegistry":
        """The enabled built-in tools, plus `extra` (an MCP hub's tools). A tool whose runtime is
        missing is left out (its reason is in `unavailable`), never a crash."""
        tools: list[Tool] = [*settings.extra_tools, *extra]
        unavailable: dict[str, str] = {}
        for name in settings.enabled:
            try:
                tools.append(_make(name, settings))
            except Exception as exc:  # noqa: BLE001 - e.g. the sandbox's runtime is not installed
                unavailable[name] = str(exc) or exc.__class__.__name__
        registry = cls(tools)
        registry.unavailable = unavailable
        return registry

    def __bool__(self) -> bool:
        return bool(self._tools)

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def openai_tools(self) -> list[dict]:
        return [tool.spec.openai_tool() for tool in self._tools.values()]

    def run(self, name: str, arguments_text: str, cancel: Cancel) -> ToolResult:
        """Run a call as the model wrote it; any problem becomes a result saying why."""
        started = time.monotonic()
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(f"There is no tool named {name!r}. Available: {', '.join(self._tools) or 'none'}.",
                              ok=False)
        try:
            arguments = json.loads(arguments_text or "{}", strict=False)  # a raw newline inside a string is fine
        except ValueError as exc:
            return ToolResult(f"The arguments are not valid JSON ({exc.msg}).", ok=False)
        if not isinstance(arguments, dict):
            return ToolResult("The arguments must be a JSON object.", ok=False)
        try:
            result = tool.run(arguments, cancel)
        except Exception as exc:  # noqa: BLE001 - a tool's defect is a result, not a crash
            return ToolResult(f"The {name} tool failed: {exc}", ok=False, elapsed_s=time.monotonic() - started)
        text, cut = truncate(result.text)
        return ToolResult(text, result.ok, result.elapsed_s or time.monotonic() - started, result.truncated or cut)


def _make(name: str, settings: ToolSettings) -> Tool:
    if name == "calculator":
        from engine.tools.calculator import Calculator

        return Calculator()
    if name == "python":
        from engine.tools.python_sandbox import PythonTool, SandboxLimits

        return PythonTool(SandboxLimits(seconds=settings.python_seconds, memory_mb=settings.python_memory_mb),
                          scratch=settings.scratch_dir)
    if name == "files":
        from engine.tools.files import FilesTool

        return FilesTool(list(settings.folders), max_read_chars=RESULT_BUDGET - 1000)  # its own note on what was cut
    if name == "fetch":
        from engine.tools.fetch import FetchTool

        return FetchTool()
    raise ValueError(f"unknown tool {name!r}; the tools are {', '.join(TOOL_NAMES)}")
