"""`hearth ask` through the same engine path as the window; every failure is one line and exit 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
