"""Hearth is killed (SIGKILL) while an answer streams: on the next start the partial answer is
there, marked interrupted, the database is intact, and no engine process is left behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.store import Store

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_while_streaming_keeps_the_partial_answer(hearth_home):
    driver = subprocess.Popen([sys.executable, str(ROOT / "tests" / "support" / "app_driver.py")],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=dict(os.environ, HEARTH_HOME=str(hearth_home)))
    first_seen = None
    message_id = None
    try:
        for line in driver.stdout:
            if line.startswith("STREAMING"):
                _, mid, chars, _ = line.split()
                message_id = int(mid)
                first_seen = first_seen or time.monotonic()
                # Past the one-second save interval, with text on screen.
                if time.monotonic() - first_seen > 1.6 and int(chars) > 0:
                    break
        assert message_id is not None, "the app never started answering"
        engine_pids = _children(driver.pid)
        driver.send_signal(signal.SIGKILL)
        driver.wait(10)
    finally:
        if driver.poll() is None:
            driver.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in engine_pids):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in engine_pids), "the engine host outlived the killed app"

    store = Store(hearth_home / "hearth.sqlite3")
    try:
        assert store.integrity_check() == "ok"
        answer = store.get_message(message_id)
        assert answer is not None and answer.role == "assistant"
        assert answer.state == "interrupted"
        assert answer.content.strip(), "the saved part of the answer was lost"
        user = store.messages(answer.conversation_id)[0]
        assert user.role == "user" and "lighthouse" in user.content
    finally:
        store.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
