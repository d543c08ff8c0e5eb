"""Writes chat messages into a store as fast as it can until it is killed (for the SIGKILL test).

Usage: python tests/support/store_writer.py DB_PATH

Prints one line per commit, flushed, only after the commit returned:
  ready <conversation_id>
  message <id> <n>   a complete user message whose content is message_text(n)
  stream <id> <n>    a streaming answer whose content is now answer_text(n)
Two threads write at once, like the GUI and a generation worker sharing one Store.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.store import Store  # noqa: E402

_print_lock = threading.Lock()


def message_text(n: int) -> str:
    return f"user message {n}: " + "lorem ipsum " * (n % 50)


def answer_text(n: int) -> str:
    return "".join(f"token{i} " for i in range(n))


def say(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def stream_answers(store: Store, conversation_id: int) -> None:
    while True:
        answer = store.add_message(conversation_id, "assistant", "", state="streaming", model="writer")
        for n in range(1, 40):
            store.update_message(answer.id, content=answer_text(n))
            say(f"stream {answer.id} {n}")
        store.update_message(answer.id, state="complete")


def main() -> None:
    store = Store(Path(sys.argv[1]))
    conversation = store.create_conversation("Killed mid-sentence")
    say(f"ready {conversation.id}")
    threading.Thread(target=stream_answers, args=(store, conversation.id), daemon=True).start()
    n = 0
    while True:
        message = store.add_message(conversation.id, "user", message_text(n))
        say(f"message {message.id} {n}")
        n += 1


if __name__ == "__main__":
    main()
