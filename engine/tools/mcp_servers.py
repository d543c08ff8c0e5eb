"""Model Context Protocol servers as tool sources: the user's `mcp.json`, the servers Hearth starts
from it, and each server tool as a Hearth tool named `<server>__<tool>`.

Configuration is the `mcp.json` of LM Studio and Claude Desktop:

    {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
                  "env": {"KEY": "value"}, "cwd": "/optional/folder"},
        "remote": {"url": "http://127.0.0.1:8000/mcp", "headers": {"Authorization": "Bearer …"}}}}

An entry has `command` (a stdio server: a child process Hearth starts, speaking JSON-RPC on its
stdin and stdout) or `url` (a streamable HTTP server), never both. Optional: `type` ("stdio",
"http", "streamable-http"; "sse" is refused), `timeout` (seconds a call may take, overriding the
hub's), `disabled: true` (left out). Other keys are ignored. A stdio server's environment is
the SDK's safe minimum (PATH, HOME, …) plus `env`, as in Claude Desktop.

Threads. The official `mcp` SDK is asyncio; an answer's tool loop is synchronous on a worker
thread. `McpHub` owns one event loop on one background thread. Each server lives in one task on
that loop that enters the SDK's transport and `ClientSession` context managers and holds them
open for the hub's lifetime (anyio requires a context to be left by the task that entered it).
A tool call is a coroutine submitted with `asyncio.run_coroutine_threadsafe`; the calling thread
waits for it, and the answer's `Cancel` cancels it (the SDK then tells the server the request is
cancelled).

Failures are results, never a stuck answer:
- a server that cannot start is in `hub.unavailable[name]` with the reason; the others work;
- a stdio server whose process exits is noticed when its stdout ends (a relay between the
  transport and the session watches it); the process is reaped and a call says
  "The MCP server 'x' stopped: …" with the last lines it wrote to stderr;
- the next call restarts a stopped server (reconnects, over HTTP), at most once per
  `restart_interval_s`;
- a call that takes longer than its timeout is abandoned (ok=False) and the server is told;
- `close()` stops every server (stdin closed, then SIGTERM, then SIGKILL to its process group,
  as the SDK does it) and the loop; no child is left behind.
"""
from __future__ import annotations

import asyncio
import atexit
import base64
import concurrent.futures
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.cancel import Cancel
from engine.tools.base import ToolResult, ToolSpec, truncate

log = logging.getLogger("hearth.mcp")

NAME_LIMIT = 64                  # OpenAI-style function names: [a-zA-Z0-9_-]{1,64}
CALL_TIMEOUT_S = 60.0
START_TIMEOUT_S = 30.0           # spawn + initialize + tools/list (npx may download on a first run)
RESTART_INTERVAL_S = 60.0
_STOP_TIMEOUT_S = 12.0           # the SDK's stdio shutdown is bounded at ~6.5 s (stdin, TERM, KILL)
_STDERR_TAIL = 4000              # bytes of a server's stderr kept for messages
_SEPARATOR = "__"


class McpConfigError(ValueError):
    """The MCP configuration cannot be used; the message says where and why."""


@dataclass(frozen=True)
class McpServerConfig:
    name: str
    command: str | None = None                  # stdio: the executable …
    args: tuple[str, ...] = ()                  # … and its arguments
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    cwd: str | None = None
    url: str | None = None                      # streamable HTTP endpoint
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    timeout_s: float | None = None              # per call; None: the hub's

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "http"


# ---------------------------------------------------------------------------------------------
# Configuration

_TYPES = {"stdio": "stdio", "http": "http", "streamable-http": "http", "streamable_http": "http",
          "streamablehttp": "http"}


def load_mcp_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> list[McpServerConfig]:
    """The servers of an `mcp.json` file (a path) or its parsed content (a mapping), in order.
    Raises McpConfigError naming the server and the field at fault."""
    where = "the MCP configuration"
    if isinstance(source, Mapping):
        data: Any = source
    else:
        path = Path(source).expanduser()
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise McpConfigError(f"Cannot read {where}: {exc.strerror or exc}") from None
        if not text.strip():
            return []
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise McpConfigError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                 f"{exc.msg}).") from None
    if not isinstance(data, Mapping):
        raise McpConfigError(f'{where} must be a JSON object like {{"mcpServers": {{…}}}}.')
    servers = data.get("mcpServers", data.get("servers"))
    if servers is None:
        raise McpConfigError(f'{where} has no "mcpServers" object.')
    if not isinstance(servers, Mapping):
        raise McpConfigError(f'{where}: "mcpServers" must be an object of server name → settings.')
    configs: list[McpServerConfig] = []
    for name, entry in servers.items():
        config = _server_config(where, name, entry)
        if config is not None:
            configs.append(config)
    return configs


def _server_config(where: str, name: Any, entry: Any) -> McpServerConfig | None:
    if not isinstance(name, str) or not name.strip():
        raise McpConfigError(f"{where}: a server needs a non-empty name.")
    at = f"{where}: server {name!r}"
    if not isinstance(entry, Mapping):
        raise McpConfigError(f'{at} must be an object with "command" or "url".')
    disabled = entry.get("disabled", False)
    if not isinstance(disabled, bool):
        raise McpConfigError(f'{at}: "disabled" must be true or false.')
    if disabled:
        return None
    kind = entry.get("type", entry.get("transport"))
    if kind is not None:
        if not isinstance(kind, str):
            raise McpConfigError(f'{at}: "type" must be a string.')
        if kind.lower() == "sse":
            raise McpConfigError(f"{at}: the legacy SSE transport is not supported; use the server's "
                                 f"streamable HTTP endpoint (often …/mcp) or its stdio command.")
        if kind.lower() not in _TYPES:
            raise McpConfigError(f'{at}: unknown "type" {kind!r} (use "stdio" or "http").')
        kind = _TYPES[kind.lower()]
    command, url = entry.get("command"), entry.get("url", entry.get("serverUrl"))
    if command is not None and url is not None:
        raise McpConfigError(f'{at} has both "command" and "url"; a server is one or the other.')
    if command is None and url is None:
        raise McpConfigError(f'{at} needs "command" (a program Hearth starts) or "url" (an HTTP server).')
    timeout = entry.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or not math.isfinite(timeout) or timeout <= 0):
        raise McpConfigError(f'{at}: "timeout" must be a positive number of seconds.')
    timeout_s = float(timeout) if timeout is not None else None
    if command is not None:
        if kind == "http":
            raise McpConfigError(f'{at}: "type" is http but there is no "url".')
        if not isinstance(command, str) or not command.strip():
            raise McpConfigError(f'{at}: "command" must be a non-empty string.')
        args = entry.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise McpConfigError(f'{at}: "args" must be a list of strings.')
        cwd = entry.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise McpConfigError(f'{at}: "cwd" must be a string.')
        return McpServerConfig(name=name, command=os.path.expanduser(command.strip()), args=tuple(args),
                               env=_string_map(at, entry, "env"),
                               cwd=os.path.expanduser(cwd) if cwd else None, timeout_s=timeout_s)
    if kind == "stdio":
        raise McpConfigError(f'{at}: "type" is stdio but there is no "command".')
    if not isinstance(url, str):
        raise McpConfigError(f'{at}: "url" must be a string.')
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise McpConfigError(f'{at}: "url" must be an http:// or https:// address, not {url!r}.')
    return McpServerConfig(name=name, url=url.strip(), headers=_string_map(at, entry, "headers"),
                           timeout_s=timeout_s)


def _string_map(at: str, entry: Mapping[str, Any], key: str) -> dict[str, str]:
    value = entry.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in value.items()):
        raise McpConfigError(f'{at}: "{key}" must be an object of string → string '
                             f'(write numbers in quotes).')
    return dict(value)


# ---------------------------------------------------------------------------------------------
# Names and results

def tool_name(server: str, tool: str) -> str:
    """`<server>__<tool>` with every other character than [a-zA-Z0-9_-] made `_`, at most 64
    characters (a long name keeps its start and gets a short hash of the whole, to stay unique)."""
    raw = f"{server}{_SEPARATOR}{tool}"
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", raw)
    if len(name) > NAME_LIMIT:
        name = f"{name[:NAME_LIMIT - 9]}_{_short_hash(raw)}"
    return name


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def result_text(result: Any) -> str:
    """A CallToolResult as text for the model: text parts as they are, images, audio and binary
    resources summarised (`[image: image/png, 68 bytes]`), text resources with their address."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind}: {block.mime_type}, {_decoded_size(block.data)} bytes]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            if text is not None:
                parts.append(f"[resource: {resource.uri}]\n{text}")
            else:
                mime = resource.mime_type or "application/octet-stream"
                parts.append(f"[resource: {resource.uri}, {mime}, {_decoded_size(resource.blob)} bytes]")
        elif kind == "resource_link":
            label = f" ({block.name})" if getattr(block, "name", None) else ""
            parts.append(f"[resource link: {block.uri}{label}]")
        else:
            parts.append(f"[{kind or 'unknown'} content]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False))
    return "\n".join(parts) if parts else "(no output)"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (ValueError, TypeError):
        return len(data) * 3 // 4


# ---------------------------------------------------------------------------------------------
# Tools

class McpTool:
    """One tool of one MCP server, as a Hearth tool."""

    def __init__(self, hub: "McpHub", server: str, name: str, spec: ToolSpec) -> None:
        self.spec = spec
        self.server = server       # the configured server name
        self.name = name           # the tool's own name on that server
        self._hub = hub            # a tool outliving its hub answers that the servers are shut down

    def run(self, arguments: dict[str, Any], cancel: Cancel) -> ToolResult:
        return self._hub.call(self.server, self.name, arguments, cancel)


# ---------------------------------------------------------------------------------------------
# The hub

class McpHub:
    """The configured MCP servers, running. `start()` (or `with McpHub(...) as hub:`) starts them
    all at once and waits; `tools()` gives their tools; `close()` stops them."""

    def __init__(self, servers: Iterable[McpServerConfig], *, call_timeout_s: float = CALL_TIMEOUT_S,
                 start_timeout_s: float = START_TIMEOUT_S,
                 restart_interval_s: float | None = RESTART_INTERVAL_S) -> None:
        """`restart_interval_s`: a stopped server is started again on its next call, at most once
        in this many seconds; None never restarts."""
        self.configs = list(servers)
        names = [c.name for c in self.configs]
        if len(set(names)) != len(names):
            raise McpConfigError("Two MCP servers have the same name.")
        self.call_timeout_s = call_timeout_s
        self.start_timeout_s = start_timeout_s
        self.restart_interval_s = restart_interval_s
        self.unavailable: dict[str, str] = {}   # server name → why it could not start
        self._servers = {c.name: _Server(c, self) for c in self.configs}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tools: list[McpTool] = []
        self._state_lock = threading.Lock()
        self._started = False
        self.closed = False

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> "McpHub":
        """Start every server and list its tools (all in parallel; at most `start_timeout_s`
        plus shutdown time for one that does not answer). Never raises for a server's failure."""
        with self._state_lock:
            if self.closed:
                raise RuntimeError("this McpHub is closed")
            if self._started:
                return self
            self._started = True
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._run_loop, name="hearth-mcp", daemon=True)
            self._thread.start()
            atexit.register(self.close)
        future = asyncio.run_coroutine_threadsafe(self._start_all(), self._loop)
        future.result()
        self._tools = self._make_tools()
        return self

    def __enter__(self) -> "McpHub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every server (children terminated and reaped) and the loop. Safe to call twice."""
        with self._state_lock:
            if self.closed:
                return
            self.closed = True
            loop, thread = self._loop, self._thread
        atexit.unregister(self.close)
        if loop is None or thread is None:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(self._stop_all(), loop)
            future.result(timeout=_STOP_TIMEOUT_S + 5)
        except Exception:  # noqa: BLE001 - closing must go on; the loop's own shutdown cancels the rest
            log.exception("stopping the MCP servers failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_STOP_TIMEOUT_S + 5)

    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            # Whatever is left (a call the server never answered), as asyncio.run does it.
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    async def _start_all(self) -> None:
        servers = list(self._servers.values())
        reasons = await asyncio.gather(*(server.start(self.start_timeout_s) for server in servers))
        for server, reason in zip(servers, reasons):
            if reason is not None:
                self.unavailable[server.config.name] = reason
                log.warning("MCP server %r is unavailable: %s", server.config.name, reason)

    async def _stop_all(self) -> None:
        await asyncio.gather(*(server.stop(closing=True) for server in self._servers.values()))

    # -- tools ------------------------------------------------------------------------------

    def tools(self) -> list[McpTool]:
        """Every tool of every server that started, named `<server>__<tool>`."""
        return list(self._tools)

    def _make_tools(self) -> list[McpTool]:
        tools: list[McpTool] = []
        seen: set[str] = set()
        for server in self._servers.values():
            for listed in server.listed_tools:
                name = tool_name(server.config.name, listed.name)
                if name in seen:  # two names that sanitise alike
                    name = f"{name[:NAME_LIMIT - 9]}_{_short_hash(server.config.name + '/' + listed.name)}"
                seen.add(name)
                schema = dict(listed.input_schema or {})
                schema.setdefault("type", "object")
                description = (listed.description or "").strip() or \
                    f"The {listed.name} tool of the MCP server '{server.config.name}'."
                tools.append(McpTool(self, server.config.name, listed.name,
                                     ToolSpec(name=name, description=description, parameters=schema)))
        return tools

    def status(self) -> dict[str, str]:
        """Each server's state in words: "running", "stopped: …" or "unavailable: …"."""
        states: dict[str, str] = {}
        for name, server in self._servers.items():
            if name in self.unavailable:
                states[name] = f"unavailable: {self.unavailable[name]}"
            elif server.session is not None:
                states[name] = "running"
            else:
                states[name] = f"stopped: {server.stopped_reason or 'not started'}"
        return states

    def call(self, server: str, tool: str, arguments: Mapping[str, Any], cancel: Cancel | None = None,
             timeout_s: float | None = None) -> ToolResult:
        """Call one server's tool from any thread; waits, but never longer than the timeout (plus
        a little) and returns at once when `cancel` is set."""
        started = time.monotonic()
        cancel = cancel or Cancel()
        target = self._servers.get(server)
        if target is None:
            return ToolResult(f"There is no MCP server named {server!r}.", ok=False)
        if self.closed or self._loop is None:
            return ToolResult(f"The MCP server '{server}' is not running (Hearth has shut its MCP servers "
                              f"down).", ok=False)
        if server in self.unavailable:
            return ToolResult(f"The MCP server '{server}' is not running: {self.unavailable[server]}", ok=False)
        if cancel.cancelled:
            return ToolResult("The tool call was cancelled.", ok=False)
        timeout = timeout_s or target.config.timeout_s or self.call_timeout_s
        try:
            future = asyncio.run_coroutine_threadsafe(target.call(tool, dict(arguments), timeout), self._loop)
        except RuntimeError:  # the loop closed in between
            return ToolResult(f"The MCP server '{server}' is not running.", ok=False)
        cancel.on_cancel(future.cancel)
        # A restart may come first, so the wait allows for a start as well as the call itself.
        limit = timeout + self.start_timeout_s + _STOP_TIMEOUT_S
        try:
            text, ok = future.result(timeout=limit)
        except concurrent.futures.CancelledError:
            text, ok = f"The call to the MCP server '{server}' was cancelled.", False
        except concurrent.futures.TimeoutError:
            future.cancel()
            text, ok = f"The MCP server '{server}' did not answer within {limit:g} s ({tool}).", False
        except Exception as exc:  # noqa: BLE001 - a defect in the client is a result too
            log.exception("MCP call %s/%s failed", server, tool)
            text, ok = f"The MCP server '{server}' failed: {_describe(exc)}", False
        text, cut = truncate(text)
        return ToolResult(text, ok=ok, elapsed_s=time.monotonic() - started, truncated=cut)


class _NotRunning(Exception):
    pass


class _Server:
    """One configured server: its serving task on the hub's loop, its session while running, and
    the tail of its stderr. Used only on the hub's loop (except for reading plain attributes)."""

    def __init__(self, config: McpServerConfig, hub: McpHub) -> None:
        self.config = config
        self.hub = hub
        self.session: Any = None                    # mcp.ClientSession while running
        self.listed_tools: list[Any] = []           # mcp.types.Tool, from the first start
        self.stopped_reason: str | None = None
        self._task: asyncio.Task | None = None
        self._scope: Any = None                     # anyio.CancelScope around the serving task's work
        self._stopping = False
        self._lock: asyncio.Lock | None = None
        self._last_restart: float | None = None
        self._stderr = _StderrTail(config.name)

    # -- start and stop ---------------------------------------------------------------------

    async def start(self, timeout: float) -> str | None:
        """Start and list tools; None when running, else why not (the server is then stopped)."""
        self._stopping = False
        self.stopped_reason = None
        ready: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._serve(ready), name=f"mcp:{self.config.name}")
        try:
            reason = await asyncio.wait_for(asyncio.shield(ready), timeout)
        except asyncio.TimeoutError:
            reason = f"it did not answer within {timeout:g} s"
        if reason is not None:
            await self.stop()
            self.stopped_reason = reason
        return reason

    async def stop(self, closing: bool = False) -> None:
        """Leave the session and the transport (the SDK stops a stdio child: stdin closed, then
        SIGTERM and SIGKILL to its process group) and wait until that is done."""
        if closing:
            self.stopped_reason = "Hearth shut its MCP servers down"
        task = self._task
        if task is None:
            return
        self._stopping = True
        if self._scope is not None:
            self._scope.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(task), _STOP_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("MCP server %r did not stop in time; cancelling", self.config.name)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._task is task:
            self._task = None

    async def _serve(self, ready: asyncio.Future[str | None]) -> None:
        import anyio
        from mcp import ClientSession
        from mcp.types import Implementation

        error: BaseException | None = None
        was_running = False
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                async with AsyncExitStack() as stack:
                    read, write = await self._open_transport(stack)
                    # The relay sees the server's output end (its process exited) even between
                    # calls; it then ends the serving, which reaps the process.
                    relay_send, relay_receive = anyio.create_memory_object_stream(0)
                    group = await stack.enter_async_context(anyio.create_task_group())
                    stack.callback(group.cancel_scope.cancel)   # LIFO: before the group is awaited
                    group.start_soon(self._relay, read, relay_send, scope)
                    session = await stack.enter_async_context(ClientSession(
                        relay_receive, write, client_info=Implementation(name="hearth", version="0.1.0")))
                    await session.initialize()
                    tools = await _list_tools(session)
                    if not self.listed_tools:
                        self.listed_tools = tools
                    self.session = session
                    was_running = True
                    if not ready.done():
                        ready.set_result(None)
                    await anyio.sleep_forever()
        except BaseException as exc:  # noqa: BLE001 - every end is a reason in words
            error = exc
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            self.session = None
            self._scope = None
            if not self._stopping:
                why = _describe(error) if error is not None and not _is_cancel(error) else None
                if self.config.transport == "stdio":
                    reason = why or ("it exited" if was_running else "it exited during start-up")
                else:
                    reason = why or "the connection closed"
                    if error is not None and "Connect" in _leaf_name(error):
                        reason = f"cannot reach {self.config.url} ({reason})"
                tail = self._stderr.last_lines()
                self.stopped_reason = f"{reason} (its last words: {tail})" if tail else reason
                if was_running:
                    log.warning("MCP server %r stopped: %s", self.config.name, self.stopped_reason)
            if not ready.done():
                ready.set_result(self.stopped_reason or (_describe(error) if error else "it stopped"))

    async def _open_transport(self, stack: AsyncExitStack) -> tuple[Any, Any]:
        config = self.config
        if config.transport == "stdio":
            from mcp import StdioServerParameters, stdio_client

            params = StdioServerParameters(command=config.command or "", args=list(config.args),
                                           env=dict(config.env) or None, cwd=config.cwd)
            errlog = self._stderr.open()
            try:
                return await stack.enter_async_context(stdio_client(params, errlog=errlog))
            except OSError as exc:
                raise _StartError(f"could not start {config.command!r}: {exc.strerror or exc}") from None
            finally:
                errlog.close()   # the child has its own copy; ours would keep the pipe open
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        client = httpx2.AsyncClient(headers=dict(config.headers), timeout=httpx2.Timeout(30.0, read=300.0))
        await stack.enter_async_context(client)
        return await stack.enter_async_context(streamable_http_client(config.url or "", http_client=client))

    async def _relay(self, read: Any, send: Any, scope: Any) -> None:
        import anyio

        async with send:
            try:
                async for item in read:
                    await send.send(item)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
                pass
        if not self._stopping:   # the server's side ended: it exited or closed the connection
            scope.cancel()

    # -- calls ------------------------------------------------------------------------------

    async def call(self, tool: str, arguments: dict[str, Any], timeout: float) -> tuple[str, bool]:
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        name = self.config.name
        try:
            session = await self._running_session()
        except _NotRunning as exc:
            return str(exc), False
        try:
            result = await session.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                return (f"The MCP server '{name}' did not answer within {timeout:g} s; the call to {tool} "
                        f"was abandoned.", False)
            if exc.code == CONNECTION_CLOSED:
                return f"The MCP server '{name}' stopped: {await self._reason_when_stopped()}.", False
            return f"The MCP server '{name}' refused the call to {tool}: {exc.message}", False
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - a transport failure, an invalid result
            if self.session is None:
                return f"The MCP server '{name}' stopped: {await self._reason_when_stopped()}.", False
            return f"The MCP server '{name}' failed on {tool}: {_describe(exc)}", False
        text = result_text(result)
        if getattr(result, "is_error", False):
            return text if text != "(no output)" else f"The {tool} tool failed without saying why.", False
        return text, True

    async def _reason_when_stopped(self) -> str:
        """After the connection closed under a call: wait for the serving task to finish (the
        process reaped, its stderr read), then say why."""
        task = self._task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), _STOP_TIMEOUT_S)
            except asyncio.TimeoutError:
                await self.stop()
        if self._stopping and self.hub.closed:
            return "Hearth shut its MCP servers down"
        return self.stopped_reason or "the connection closed during the call"

    async def _running_session(self) -> Any:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.session is not None:
                return self.session
            name = self.config.name
            reason = self.stopped_reason or "it is not running"
            if self.hub.closed:
                raise _NotRunning(f"The MCP server '{name}' is not running (Hearth has shut its MCP "
                                  f"servers down).")
            interval = self.hub.restart_interval_s
            if interval is None:
                raise _NotRunning(f"The MCP server '{name}' stopped: {reason}.")
            now = time.monotonic()
            if self._last_restart is not None and now - self._last_restart < interval:
                wait = math.ceil(interval - (now - self._last_restart))
                raise _NotRunning(f"The MCP server '{name}' stopped: {reason}. Hearth restarts a server at "
                                  f"most once every {interval:g} s; it will try again in {wait} s.")
            self._last_restart = now
            if self._task is not None:
                await self.stop()
            log.info("restarting MCP server %r", name)
            failure = await self.start(self.hub.start_timeout_s)
            if failure is not None or self.session is None:
                raise _NotRunning(f"The MCP server '{name}' stopped ({reason}) and could not be restarted: "
                                  f"{failure or 'it stopped again'}.")
            return self.session


class _StartError(Exception):
    pass


async def _list_tools(session: Any) -> list[Any]:
    from mcp.types import PaginatedRequestParams

    tools: list[Any] = []
    cursor = None
    for _ in range(100):   # a server whose cursor never ends cannot hang the start
        result = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
        tools.extend(result.tools)
        cursor = result.next_cursor
        if not cursor:
            break
    return tools


class _StderrTail:
    """A stdio server's stderr through a pipe Hearth reads on a small thread (portable, unlike
    asyncio pipes), keeping the last few KB for messages and logging each line at debug level."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._tail = bytearray()
        self._lock = threading.Lock()

    def open(self):
        """A new pipe; returns the write end for the child (close it once the child is spawned)."""
        read_fd, write_fd = os.pipe()
        with self._lock:
            self._tail.clear()   # a new process: only its own words
        reader = threading.Thread(target=self._read, args=(read_fd,), name=f"mcp-stderr:{self._name}",
                                  daemon=True)
        reader.start()
        return os.fdopen(write_fd, "wb", buffering=0)

    def _read(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, 65536):
                with self._lock:
                    self._tail += chunk
                    del self._tail[:-_STDERR_TAIL]
                if log.isEnabledFor(logging.DEBUG):
                    for line in chunk.decode("utf-8", "replace").splitlines():
                        log.debug("[%s] %s", self._name, line)
        except OSError:
            pass
        finally:
            os.close(fd)

    def last_lines(self, count: int = 3) -> str:
        with self._lock:
            text = self._tail.decode("utf-8", "replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return " / ".join(lines[-count:])[-600:]


def _is_cancel(exc: BaseException) -> bool:
    if isinstance(exc, asyncio.CancelledError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_cancel(e) for e in exc.exceptions)
    return False


def _leaf_name(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return type(exc).__name__


def _describe(exc: BaseException) -> str:
    """An exception in words for the user: the first real cause inside any exception group."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not _is_cancel(e)] or list(exc.exceptions)
        exc = inner[0]
    if isinstance(exc, _StartError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    message = getattr(exc, "message", None) or str(exc)
    kind = type(exc).__name__
    if not message:
        return kind
    if "Connect" in kind or "Timeout" in kind or "HTTP" in kind:
        return f"{message} ({kind})"
    return message
