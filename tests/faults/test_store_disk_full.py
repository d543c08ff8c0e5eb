"""The disk fills up while Hearth saves a long answer: the user is told, and nothing saved earlier is lost.

The filling-up happens in a child process: either a file size limit (RLIMIT_FSIZE, with SIGXFSZ
ignored so writes fail with EFBIG instead of killing the process) or a real 1 MiB tmpfs
mounted in a private mount namespace (ENOSPC), where the machine allows it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.store import Store

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, os, resource, signal, sys
sys.path.insert(0, sys.argv[3])
from engine.store import Store, StoreError, StoreFullError

db, how = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited as ignored: writes past the limit fail with EFBIG
store = Store(db)
chat = store.create_conversation("Before the disk filled up")
early = [store.add_message(chat.id, "user", f"early message {i}").id for i in range(5)]
if how == "rlimit":
    used = max(os.path.getsize(db + suffix) for suffix in ("", "-wal", "-shm") if os.path.exists(db + suffix))
    resource.setrlimit(resource.RLIMIT_FSIZE, (used + 256 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
result = {"early": early, "conversation": chat.id}

def attempt(work):
    try:
        work()
        return None
    except StoreFullError as error:
        return ["StoreFullError", str(error)]
    except StoreError as error:
        return ["StoreError", str(error)]

long_answer = os.urandom(3 * 1024 * 1024).hex()  # 6 MB of text, far past the limit
result["long"] = attempt(lambda: store.add_message(chat.id, "assistant", long_answer))
answer = store.add_message(chat.id, "assistant", "", state="streaming") if how == "tmpfs" else None
if answer is not None:  # a streaming answer that outgrows the disk
    result["stream"] = attempt(lambda: store.update_message(answer.id, content=long_answer))
result["after"] = [m.content for m in store.messages(chat.id)]
result["search"] = [h.message_id for h in store.search("early")]
result["integrity"] = store.integrity_check()
result["small"] = attempt(lambda: store.add_message(chat.id, "user", "a short reply"))
store.close()
reopened = Store(db)
result["reopened"] = [m.content for m in reopened.messages(chat.id)]
result["reopened_integrity"] = reopened.integrity_check()
reopened.close()
print(json.dumps(result))
"""


def run_child(command: list[str]) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_user_was_told_and_nothing_was_lost(result: dict, failure: list | None) -> None:
    assert failure is not None, "the oversized write should have failed"
    kind, message = failure
    assert kind == "StoreFullError"
    assert "disk is full" in message and "Nothing that was already saved was lost" in message
    early = [f"early message {i}" for i in range(5)]
    assert result["after"][:5] == early
    assert len(result["search"]) == 5  # the store still reads and searches
    assert result["integrity"] == "ok"
    assert result["reopened"][:5] == early
    assert result["reopened_integrity"] == "ok"


def test_a_file_size_limit_fails_the_save_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "hearth.sqlite3"

    result = run_child([sys.executable, "-c", CHILD, str(db), "rlimit", str(ROOT)])

    assert_user_was_told_and_nothing_was_lost(result, result["long"])
    assert all(len(content) < 1000 for content in result["after"])  # no half-saved long answer
    store = Store(db)  # and outside the limit, everything is where it was
    assert [m.content for m in store.messages(result["conversation"])][:5] == [f"early message {i}" for i in range(5)]
    assert store.integrity_check() == "ok"
    store.close()


def _can_mount_private_tmpfs(where: Path) -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs '{where}'"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


def test_a_full_disk_fails_the_save_with_a_clear_message(tmp_path: Path) -> None:
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    if not _can_mount_private_tmpfs(mountpoint):
        pytest.skip("cannot mount a private tmpfs here (needs unprivileged user namespaces)")
    db = mountpoint / "hearth.sqlite3"
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    result = run_child(
        ["unshare", "-rm", "sh", "-c",
         f"mount -t tmpfs -o size=1m tmpfs '{mountpoint}' && exec '{sys.executable}' '{script}' '{db}' tmpfs '{ROOT}'"]
    )

    assert_user_was_told_and_nothing_was_lost(result, result["long"])
    assert result["stream"] is not None and result["stream"][0] == "StoreFullError"
    assert result["after"][5] == ""  # the streaming answer keeps what it had; the oversized update was rolled back
    assert result["small"] is None  # a short message still fits afterwards
    assert result["reopened"][-1] == "a short reply"
