"""MCP servers as tool sources: real server processes (tests/support/mcp_echo_server.py, built on
the official SDK), real stdio pipes and real HTTP; nothing of the SDK is mocked."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from engine.cancel import Cancel  # noqa: E402
from engine.tools.mcp_servers import (  # noqa: E402
    McpConfigError,
    McpHub,
    McpServerConfig,
    load_mcp_config,
    tool_name,
)
from engine.tools.registry import ToolRegistry  # noqa: E402

ECHO_SERVER = Path(__file__).resolve().parents[1] / "support" / "mcp_echo_server.py"
pytestmark = pytest.mark.timeout(60)


def echo_config() -> dict:
    return {"command": sys.executable, "args": [str(ECHO_SERVER)]}


def hub_for(servers: dict, **options) -> McpHub:
    return McpHub(load_mcp_config({"mcpServers": servers}), **options)


def children() -> set[int]:
    """This process's child processes, zombies included (Linux /proc)."""
    me, found = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                found.add(int(entry))
    return found


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


# --- configuration -------------------------------------------------------------------------

def test_an_mcp_json_file_reads_as_server_configs(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
                  "env": {"TOKEN": "abc"}},
        "remote": {"url": "http://127.0.0.1:8000/mcp", "headers": {"Authorization": "Bearer x"},
                   "timeout": 5},
        "off": {"command": "whatever", "disabled": True},
        "typed": {"type": "streamable-http", "url": "https://example.org/mcp", "autoApprove": []},
    }}))
    files, remote, typed = load_mcp_config(path)
    assert files == McpServerConfig(name="files", command="npx",
                                    args=("-y", "@modelcontextprotocol/server-filesystem", "/tmp"),
                                    env={"TOKEN": "abc"})
    assert files.transport == "stdio"
    assert (remote.url, remote.headers, remote.timeout_s, remote.transport) == \
        ("http://127.0.0.1:8000/mcp", {"Authorization": "Bearer x"}, 5.0, "http")
    assert typed.name == "typed" and typed.url == "https://example.org/mcp"
    (tmp_path / "empty.json").write_text("")
    assert load_mcp_config(tmp_path / "empty.json") == []


@pytest.mark.parametrize(("config", "says"), [
    ([], "must be a JSON object"),
    ({"servers_typo": {}}, 'no "mcpServers"'),
    ({"mcpServers": []}, '"mcpServers" must be an object'),
    ({"mcpServers": {"a": "npx"}}, "server 'a' must be an object"),
    ({"mcpServers": {"a": {}}}, "server 'a' needs \"command\""),
    ({"mcpServers": {"a": {"command": "x", "url": "http://h/mcp"}}}, "both"),
    ({"mcpServers": {"a": {"command": ""}}}, '"command" must be a non-empty string'),
    ({"mcpServers": {"a": {"command": "x", "args": "--flag"}}}, '"args" must be a list of strings'),
    ({"mcpServers": {"a": {"command": "x", "env": {"PORT": 8000}}}}, '"env" must be an object of string'),
    ({"mcpServers": {"a": {"url": "ftp://h/mcp"}}}, "http:// or https://"),
    ({"mcpServers": {"a": {"url": "http://h/mcp", "headers": ["x"]}}}, '"headers" must be an object'),
    ({"mcpServers": {"a": {"url": "http://h/sse", "type": "sse"}}}, "SSE transport is not supported"),
    ({"mcpServers": {"a": {"command": "x", "timeout": 0}}}, '"timeout" must be a positive number'),
    ({"mcpServers": {"a": {"command": "x", "type": "http"}}}, 'there is no "url"'),
])
def test_a_bad_config_says_which_server_and_field(config, says: str, tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(config))
    for source in (path, config) if isinstance(config, dict) else (path,):
        with pytest.raises(McpConfigError) as caught:
            load_mcp_config(source)
        assert says in str(caught.value)


def test_a_broken_json_file_says_where(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"a": {"command": "x",}}}')
    with pytest.raises(McpConfigError, match=r"mcp\.json is not valid JSON \(line 1, column"):
        load_mcp_config(path)
    with pytest.raises(McpConfigError, match="Cannot read"):
        load_mcp_config(tmp_path / "missing.json")


def test_tool_names_are_sanitised_and_at_most_64_characters() -> None:
    assert tool_name("echo", "add") == "echo__add"
    assert tool_name("my server", "read.file/v2") == "my_server__read_file_v2"
    long_a, long_b = tool_name("s" * 40, "t" * 40 + "a"), tool_name("s" * 40, "t" * 40 + "b")
    assert len(long_a) == 64 and long_a != long_b and long_a.startswith("s" * 40 + "__")


# --- a running stdio server ----------------------------------------------------------------

@pytest.fixture(scope="module")
def echo_hub():
    hub = hub_for({"echo": echo_config()}, call_timeout_s=10).start()
    yield hub
    hub.close()


def test_the_servers_tools_are_listed_with_their_schemas(echo_hub: McpHub) -> None:
    registry = ToolRegistry(echo_hub.tools())
    assert echo_hub.unavailable == {}
    assert {"echo__echo", "echo__add", "echo__crash", "echo__hang"} <= set(registry.names())
    add = registry.get("echo__add").spec
    assert add.description == "Add two numbers."
    assert add.parameters["type"] == "object" and add.parameters["required"] == ["a", "b"]
    assert add.parameters["properties"]["a"]["type"] == "number"
    entry = next(t for t in registry.openai_tools() if t["function"]["name"] == "echo__echo")
    assert entry["function"]["parameters"]["properties"]["text"]["type"] == "string"
    assert echo_hub.status() == {"echo": "running"}


def test_tools_run_through_the_registry_with_json_arguments(echo_hub: McpHub) -> None:
    registry, cancel = ToolRegistry(echo_hub.tools()), Cancel()
    echoed = registry.run("echo__echo", json.dumps({"text": "hello, hearth ✓"}), cancel)
    assert (echoed.text, echoed.ok) == ("hello, hearth ✓", True)
    assert registry.run("echo__add", '{"a": 2, "b": 3.5}', cancel).text == "5.5"
    assert registry.run("echo__picture", "{}", cancel).text == "[image: image/png, 67 bytes]"
    failed = registry.run("echo__fail", '{"reason": "no such city"}', cancel)
    assert not failed.ok and "no such city" in failed.text
    missing = registry.run("echo__echo", "{}", cancel)            # the server validates arguments
    assert not missing.ok and "text" in missing.text


def test_a_crash_mid_call_is_a_message_then_the_next_call_restarts_it() -> None:
    hub = hub_for({"echo": echo_config()}, call_timeout_s=10, restart_interval_s=30).start()
    try:
        registry, cancel = ToolRegistry(hub.tools()), Cancel()
        first_pid = int(float(registry.run("echo__pid", "{}", cancel).text))
        crashed = registry.run("echo__crash", "{}", cancel)
        assert not crashed.ok
        assert crashed.text.startswith("The MCP server 'echo' stopped: it exited")
        assert "crashing on purpose" in crashed.text                    # its last words on stderr
        assert gone(first_pid) or not Path("/proc").exists()           # reaped, no zombie
        again = registry.run("echo__echo", '{"text": "back"}', cancel)  # restarted on this call
        assert (again.text, again.ok) == ("back", True)
        second_pid = int(float(registry.run("echo__pid", "{}", cancel).text))
        assert second_pid != first_pid
        assert not registry.run("echo__crash", "{}", cancel).ok
        refused = registry.run("echo__echo", '{"text": "too soon"}', cancel)
        assert not refused.ok and "at most once every 30 s" in refused.text
    finally:
        started = time.monotonic()
        hub.close()
    assert time.monotonic() - started < 5


def test_a_hung_call_times_out_and_the_server_still_answers() -> None:
    with hub_for({"echo": echo_config()}, call_timeout_s=0.5) as hub:
        registry, cancel = ToolRegistry(hub.tools()), Cancel()
        started = time.monotonic()
        hung = registry.run("echo__hang", "{}", cancel)
        assert not hung.ok and "did not answer within 0.5 s" in hung.text
        assert time.monotonic() - started < 3
        assert registry.run("echo__echo", '{"text": "still here"}', cancel).text == "still here"


def test_cancelling_a_hung_call_returns_at_once() -> None:
    with hub_for({"echo": echo_config()}, call_timeout_s=60) as hub:
        registry, cancel = ToolRegistry(hub.tools()), Cancel()
        threading.Timer(0.3, cancel.cancel).start()
        started = time.monotonic()
        result = registry.run("echo__hang", "{}", cancel)
        assert time.monotonic() - started < 2
        assert not result.ok and "cancelled" in result.text
        assert registry.run("echo__add", '{"a": 1, "b": 1}', Cancel()).text == "2.0"


def test_a_server_that_cannot_start_is_reported_and_the_others_work() -> None:
    servers = {
        "missing": {"command": "/nonexistent/mcp-server-binary", "args": ["--stdio"]},
        "quits": {"command": sys.executable,
                  "args": ["-c", "import sys; sys.stderr.write('no API key configured\\n'); sys.exit(3)"]},
        "echo": echo_config(),
    }
    with hub_for(servers, start_timeout_s=20) as hub:
        assert set(hub.unavailable) == {"missing", "quits"}
        assert "could not start '/nonexistent/mcp-server-binary'" in hub.unavailable["missing"]
        assert "No such file" in hub.unavailable["missing"]
        assert "exited during start-up" in hub.unavailable["quits"]
        assert "no API key configured" in hub.unavailable["quits"]
        assert {tool.spec.name.split("__")[0] for tool in hub.tools()} == {"echo"}
        assert ToolRegistry(hub.tools()).run("echo__echo", '{"text": "ok"}', Cancel()).ok
        refused = hub.call("quits", "anything", {})
        assert not refused.ok and "is not running" in refused.text


def test_a_server_that_never_answers_the_handshake_is_unavailable_after_the_start_timeout() -> None:
    silent = {"command": sys.executable, "args": ["-c", "import time; time.sleep(60)"]}
    started = time.monotonic()
    with hub_for({"silent": silent}, start_timeout_s=1) as hub:
        assert "did not answer within 1 s" in hub.unavailable["silent"]
        assert hub.tools() == []
    assert time.monotonic() - started < 10


@needs_proc
def test_close_leaves_no_child_process_even_with_a_call_in_flight() -> None:
    before = children()
    hub = hub_for({"one": echo_config(), "two": echo_config()}, call_timeout_s=60).start()
    registry = ToolRegistry(hub.tools())
    pids = {int(float(registry.run(f"{name}__pid", "{}", Cancel()).text)) for name in ("one", "two")}
    assert pids <= children() - before
    results = []
    caller = threading.Thread(target=lambda: results.append(registry.run("two__hang", "{}", Cancel())))
    caller.start()
    time.sleep(0.3)
    started = time.monotonic()
    hub.close()
    caller.join(timeout=10)
    assert not caller.is_alive() and time.monotonic() - started < 8
    assert not results[0].ok and "shut" in results[0].text
    assert children() - before == set()
    assert all(gone(pid) for pid in pids)
    after = registry.run("one__echo", '{"text": "late"}', Cancel())
    assert not after.ok and "not running" in after.text
    hub.close()   # twice is fine


# --- streamable HTTP -----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def http_server():
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(ECHO_SERVER), "--http", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("the HTTP echo server did not start")
                time.sleep(0.05)
        yield process, f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait()


def test_a_streamable_http_server_with_headers(http_server) -> None:
    process, url = http_server
    servers = {"web": {"url": url, "headers": {"X-Hearth-Test": "sesame"}},
               "nowhere": {"url": f"http://127.0.0.1:{_free_port()}/mcp"}}
    with hub_for(servers, call_timeout_s=10, restart_interval_s=None) as hub:
        assert "cannot reach http://127.0.0.1:" in hub.unavailable["nowhere"]
        registry, cancel = ToolRegistry(hub.tools()), Cancel()
        assert registry.run("web__echo", '{"text": "over http"}', cancel).text == "over http"
        assert registry.run("web__header", '{"name": "X-Hearth-Test"}', cancel).text == "sesame"
        process.kill()
        process.wait()
        stopped = registry.run("web__echo", '{"text": "anyone?"}', cancel)
        assert not stopped.ok and stopped.text.startswith("The MCP server 'web' stopped")
