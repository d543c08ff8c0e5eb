"""A tiny MCP server for tests, built on the official SDK's MCPServer (FastMCP in mcp 1.x).

    python tests/support/mcp_echo_server.py                 # stdio, as Hearth starts it
    python tests/support/mcp_echo_server.py --http PORT     # streamable HTTP on 127.0.0.1:PORT/mcp

Tools: `echo(text)`, `add(a, b)`, `pid()` (its own process id, so a test can check the process
is gone), `header(name)` (an HTTP request header it received), `picture()` (a small PNG),
`fail()` (an error result), `crash()` (the process exits in the middle of the call) and
`hang()` (never answers). It imports only the SDK.
"""
from __future__ import annotations

import os
import sys
import time

from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("echo")

# a 1×1 PNG, small enough to write out
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool()
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@server.tool()
def header(name: str, ctx: Context) -> str:
    """An HTTP request header the client sent ("" over stdio or when absent)."""
    return (ctx.headers or {}).get(name.lower(), "")


@server.tool()
def picture() -> Image:
    """A one-pixel PNG."""
    return Image(data=PNG, format="png")


@server.tool()
def fail(reason: str = "it went wrong") -> str:
    """Always fails with the reason."""
    raise ToolError(reason)


@server.tool()
def crash() -> str:
    """The server dies in the middle of the call."""
    sys.stderr.write("echo server: crashing on purpose\n")
    sys.stderr.flush()
    os._exit(1)


@server.tool()
def hang() -> str:
    """Never answers (blocks a worker thread, as a stuck server would)."""
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
