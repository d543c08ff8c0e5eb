"""Hearth is killed (SIGKILL) while it writes; every message it had saved is still there afterwards."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import Store
from tests.support.store_writer import answer_text, message_text

WRITER = Path(__file__).resolve().parents[1] / "support" / "store_writer.py"
RUNS = int(os.environ.get("HEARTH_SIGKILL_RUNS", "50"))

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX only")


def run_writer_and_kill_it(db: Path, delay_s: float) -> list[str]:
    """Start the writer, let it write for `delay_s` after it is ready, SIGKILL it; return the lines it printed."""
    writer = subprocess.Popen([sys.executable, str(WRITER), str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready = writer.stdout.readline().decode()
        assert ready.startswith("ready "), f"the writer did not start: {ready!r} {writer.stderr.read().decode()}"
        time.sleep(delay_s)
        writer.send_signal(signal.SIGKILL)
        output, _ = writer.communicate(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL
    # A line cut off by the kill has no newline: it was never acknowledged.
    return [line for line in output.decode().splitlines(keepends=True) if line.endswith("\n")]


def test_every_message_acknowledged_before_a_sigkill_survives(tmp_path: Path) -> None:
    db = tmp_path / "hearth.sqlite3"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    saved_messages: dict[int, int] = {}  # id -> n, across all runs: later runs must not lose earlier ones
    total_streams = 0

    for run in range(RUNS):
        lines = run_writer_and_kill_it(db, delay_s=rng.uniform(0.0, 0.3))
        acknowledged: dict[int, int] = {}
        streams: dict[int, int] = {}
        for line in lines:
            kind, message_id, n = line.split()
            if kind == "message":
                acknowledged[int(message_id)] = int(n)
            elif kind == "stream":
                streams[int(message_id)] = max(streams.get(int(message_id), 0), int(n))
        saved_messages.update(acknowledged)
        total_streams += len(streams)

        store = Store(db)  # what Hearth does on its next start
        try:
            context = f"run {run}, seed {seed}"
            assert store.integrity_check() == "ok", context
            for message_id, n in acknowledged.items():
                message = store.get_message(message_id)
                assert message is not None, f"message {message_id} was acknowledged but is gone ({context})"
                assert (message.content, message.state) == (message_text(n), "complete"), context
            for message_id, n in streams.items():
                answer = store.get_message(message_id)
                assert answer is not None, context
                # The writer may have committed a longer version it had no time to print.
                assert answer.content in {answer_text(k) for k in range(n, 40)}, context
                assert answer.state in ("interrupted", "complete"), context
                if answer.state == "complete":
                    assert answer.content == answer_text(39), context
        finally:
            store.close()

    store = Store(db)
    try:
        everything = {m.id: m for c in store.list_conversations() for m in store.messages(c.id)}
    finally:
        store.close()
    for message_id, n in saved_messages.items():  # nothing from an earlier run went missing later
        assert everything[message_id].content == message_text(n), f"message {message_id}, seed {seed}"
    assert not [m for m in everything.values() if m.state == "streaming"]
    assert len(saved_messages) > RUNS  # the kills did land while messages were being written
    assert total_streams > 0
