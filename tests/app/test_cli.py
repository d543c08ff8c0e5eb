"""`hearth ask` through the same engine path as the window; every failure is one line and exit 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.tiny_vision import tiny_vision_model  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]


def hearth(*args: str, env_home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, HEARTH_HOME=str(env_home)), timeout=180)


def test_ask_streams_an_answer_from_the_starter_model(hearth_home):
    result = hearth("ask", "What is the capital of France?", "--max-tokens", "16", "--temperature", "0",
                    env_home=hearth_home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_ask_json_reports_text_and_speed(hearth_home):
    result = hearth("ask", "Say hello", "--json", "--max-tokens", "8", "--system", "Be brief.",
                    env_home=hearth_home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"] and data["completion_tokens"] > 0 and data["tokens_per_second"] > 0
    assert data["model"].endswith(".gguf")


def test_bad_input_is_one_line_and_exit_2(hearth_home, tmp_path):
    garbage = tmp_path / "model.gguf"
    garbage.write_bytes(os.urandom(4096))
    cases = [
        ("ask",),                                              # no prompt
        ("ask", "hi", "--model", str(tmp_path / "missing.gguf")),
        ("ask", "hi", "--model", str(garbage)),
        ("ask", "hi", "--max-tokens", "0"),
        ("ask", "hi", "--bogus"),
        ("frobnicate",),
    ]
    for args in cases:
        result = hearth(*args, env_home=hearth_home)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hearth:"), (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_models_list_inspect_and_transcribe_through_the_hearth_command(hearth_home, tmp_path, starter_model):
    listed = hearth("models", "list", "--json", env_home=hearth_home)
    assert listed.returncode == 0, listed.stderr
    assert str(starter_model) in listed.stdout
    inspected = hearth("models", "inspect", str(starter_model), env_home=hearth_home)
    assert inspected.returncode == 0 and "Q4_1" in inspected.stdout
    wav = tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "Open the kitchen window"], check=True)
    heard = hearth("transcribe", str(wav), env_home=hearth_home)
    assert heard.returncode == 0, heard.stderr
    assert "kitchen window" in heard.stdout.lower()
    missing = hearth("models", "pull", env_home=hearth_home)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_ask_with_an_image_uses_a_vision_model_and_refuses_a_blind_one(hearth_home, tmp_path, tiny_vision_model):
    from PIL import Image

    photo = tmp_path / "red.png"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(photo)
    seen = hearth("ask", "--image", str(photo), "What colour is this?", "--model", str(tiny_vision_model.model_path),
                  "--max-tokens", "4", "--json", env_home=hearth_home)
    assert seen.returncode == 0, seen.stderr
    assert json.loads(seen.stdout)["completion_tokens"] > 0
    blind = hearth("ask", "--image", str(photo), "What colour is this?", env_home=hearth_home)
    assert blind.returncode == 2 and "cannot see images" in blind.stderr
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    refused = hearth("ask", "--image", str(broken), "hi", env_home=hearth_home)
    assert refused.returncode == 2 and "broken.png" in refused.stderr


def test_ask_keeps_no_history_unless_asked_and_continues_a_saved_chat(hearth_home):
    """A chat begun with `--save` goes on with `-c`; the window's history holds both turns, and
    a chat made in the window goes on from the command line with `--conversation ID`."""
    from engine.store import Store

    database = hearth_home / "hearth.sqlite3"

    def chats() -> list:
        if not database.exists():
            return []
        with Store(database) as store:
            return [(c, [(m.role, m.content, m.state) for m in store.messages(c.id)]) for c in store.list_conversations()]

    plain = hearth("ask", "Say hi", "--max-tokens", "4", env_home=hearth_home)
    assert plain.returncode == 0, plain.stderr
    assert chats() == [], "a plain ask kept history"

    first = hearth("ask", "Name a colour", "--save", "--json", "--max-tokens", "6", "--temperature", "0",
                   env_home=hearth_home)
    assert first.returncode == 0, first.stderr
    saved = json.loads(first.stdout)
    follow = hearth("ask", "-c", "And another one?", "--json", "--max-tokens", "6", env_home=hearth_home)
    assert follow.returncode == 0, follow.stderr
    assert json.loads(follow.stdout)["conversation"] == saved["conversation"]
    [(chat, messages)] = chats()
    assert chat.title == "Name a colour"
    assert [(role, state) for role, _, state in messages] == [("user", "complete"), ("assistant", "complete")] * 2
    assert messages[1][1] == saved["text"] and messages[2][1] == "And another one?"

    with Store(database) as store:  # as the window would: a chat of its own
        window_chat = store.create_conversation(title="From the window")
        store.add_message(window_chat.id, "user", "Remember the number 42.")
        store.add_message(window_chat.id, "assistant", "I will remember 42.")
    onward = hearth("ask", "--conversation", str(window_chat.id), "Which number?", "--max-tokens", "4",
                    env_home=hearth_home)
    assert onward.returncode == 0, onward.stderr
    with Store(database) as store:
        assert [m.content for m in store.messages(window_chat.id)][:3] == [
            "Remember the number 42.", "I will remember 42.", "Which number?"]
        assert store.messages(window_chat.id)[-1].role == "assistant"
    missing = hearth("ask", "--conversation", "999", "hi", env_home=hearth_home)
    assert missing.returncode == 2 and "no conversation 999" in missing.stderr


def test_ask_a_remote_server_sends_the_whole_chat_and_streams_its_reply(hearth_home):
    from tests.support.openai_server import scripted_server

    with scripted_server(api_key="sk-test") as server:
        server.replies = ["Paris is the capital.", "It lies on the Seine."]
        first = hearth("ask", "--server", server.base_url, "--api-key", "sk-test", "--save", "Capital of France?",
                       env_home=hearth_home)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == "Paris is the capital."
        second = hearth("ask", "--server", server.base_url, "--api-key", "sk-test", "-c", "Which river?", "--json",
                        env_home=hearth_home)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["text"] == "It lies on the Seine."
        assert server.requests[-1]["model"] == "llama-3.1-8b-instruct"  # the server's first model
        assert [m["content"] for m in server.requests[-1]["messages"]] == [
            "Capital of France?", "Paris is the capital.", "Which river?"]
        refused = hearth("ask", "--server", server.base_url, "--api-key", "wrong", "hi", env_home=hearth_home)
        assert refused.returncode == 2 and "key" in refused.stderr


def test_ask_with_tools_runs_an_allowed_mcp_tool_and_a_calculation_and_reports_each_call(hearth_home, tmp_path):
    """A remote model asks for an MCP server's tool and the calculator; --allow lets both run, and
    a tool outside --allow is denied because stdin is not a terminal."""
    from tests.support.openai_server import scripted_server

    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"echo": {
        "command": sys.executable, "args": [str(ROOT / "tests" / "support" / "mcp_echo_server.py")]}}}))
    with scripted_server() as server:
        server.replies = [{"tool_calls": [{"name": "echo__echo", "arguments": {"text": "hello from MCP"}},
                                          {"name": "calculator", "arguments": {"expression": "2**10"}},
                                          {"name": "echo__add", "arguments": {"a": 2, "b": 3}}]},
                          "Echoed, and 2**10 is 1024."]
        result = hearth("ask", "--server", server.base_url, "--tools", "calculator", "--mcp", str(config),
                        "--allow", "calculator,echo__echo", "--json", "Echo and calculate", env_home=hearth_home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"] == "Echoed, and 2**10 is 1024."
    calls = {c["name"]: c for c in data["tool_calls"]}
    assert calls["echo__echo"]["approved"] and "hello from MCP" in calls["echo__echo"]["result"]
    assert calls["calculator"]["approved"] and calls["calculator"]["result"] == "1024"
    assert not calls["echo__add"]["approved"], "a tool outside --allow ran without a terminal to ask on"
    offered = {t["function"]["name"] for t in server.requests[0]["tools"]}
    assert {"calculator", "echo__echo", "echo__add"} <= offered


def test_ask_think_short_closes_a_long_thought_and_json_gives_reasoning_and_text_apart(hearth_home):
    from tests.support.openai_server import scripted_server

    with scripted_server(["qwen3-8b"]) as server:
        server.replies = [{"endless_thought": "hmm", "field": "reasoning_content"}, "Blue."]
        result = hearth("ask", "--server", server.base_url, "--think", "short", "--json", "Pick a colour",
                        env_home=hearth_home)
        off = hearth("ask", "--server", server.base_url, "--think", "off", "Pick a colour", env_home=hearth_home)
        bad = hearth("ask", "--server", server.base_url, "--think", "forever", "hi", env_home=hearth_home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["text"] == "Blue." and data["reasoning"].startswith(" hmm hmm")
    assert 512 <= data["reasoning_tokens"] <= 520
    assert off.returncode == 0 and server.requests[-1]["chat_template_kwargs"] == {"enable_thinking": False}
    assert bad.returncode == 2 and "--think" in bad.stderr
