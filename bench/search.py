"""Chat search over a long history (200,000 messages): Hearth's `Store.search` (best matches among
the newest SEARCH_WINDOW, with chat titles and marked snippets, on its own read connection) ÷ a
bare FTS5 `SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? LIMIT 50` on the same
database with the same MATCH expression. The bare query ranks nothing, joins nothing and stops at
its 50th match, so it is a floor, not a rival: the ratio says what ranking, titles and snippets
cost on top of finding the matches at all. Goal: a common word in ≤ 50 ms.

The history is written in one transaction straight into the schema the Store created (its
migrations, so the same tables, FTS5 table and triggers: the triggers index every message as the
app's own saves do); 2 % of the chats are deleted, as the app does (soft delete). The text is
drawn from a Zipf-distributed vocabulary, so a common word (`function`, in ~15 % of messages)
behaves like one; one old message holds a rare word.

Also reported: `before_ms`, the previous search (FTS5 ranks every match, then LIMIT) for the
common word; `stopword_*`, a word in ~95 % of messages (`the`: FTS5's own prefix expansion of
"the"* dominates both sides); `save_during_search_ms`, how long `update_message` takes while
another thread searches without pause (it used to wait for the search's lock).

Ends by printing one line: a JSON object of the figures, the headline under `search_ratio`.
"""
from __future__ import annotations

import itertools
import json
import random
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from _common import median

from engine.store import Store
from engine.store.database import SEARCH_WINDOW, fts_expression

MESSAGES = 200_000
PER_CHAT = 40
DELETED_SHARE = 0.02
ROUNDS = 15
BEFORE_ROUNDS = 5
RARE_WORD, RARE_AT = "xylophonist", 1234  # said once, near the start of the history
QUERIES = {"common": "function", "two_words": "python error", "rare": RARE_WORD, "stopword": "the"}
BARE = "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? LIMIT 50"
BEFORE = ("SELECT m.conversation_id, c.title, m.id, m.role, snippet(messages_fts, 0, ?, ?, '…', 16) "
          "FROM messages_fts JOIN messages AS m ON m.id = messages_fts.rowid "
          "JOIN conversations AS c ON c.id = m.conversation_id "
          "WHERE messages_fts MATCH ? AND c.deleted_at IS NULL ORDER BY messages_fts.rank, m.id DESC LIMIT 50")

COMMON = ("the a to of and is in it you that for with on this be are can as your if not or have but by at "
          "from an will so do use more what which about one there when function python code error model data "
          "file value time example question answer list string number would should like just make").split()
SYLLABLES = ["ka", "lo", "ri", "ten", "mar", "sol", "vi", "dra", "pen", "qu", "stu", "ble", "nor", "ith", "gan",
             "fe", "ox", "ul", "bre", "tas"]


def build_history(path: Path) -> None:
    Store(path).close()  # the schema, FTS5 table and triggers, exactly as the app creates them
    rng = random.Random(7)
    made = {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(20_000)}
    vocabulary = COMMON + sorted(made - set(COMMON) - {RARE_WORD})
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) ** 1.05 for rank in range(len(vocabulary))))
    start = time.time() - MESSAGES * 60

    def messages():
        for i in range(MESSAGES):
            role = "user" if i % 2 == 0 else "assistant"
            words = rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(5, 40) if role == "user"
                                else rng.randint(30, 200))
            if i == RARE_AT:
                words.append(RARE_WORD)
            yield i // PER_CHAT + 1, role, " ".join(words), start + i * 60, start + i * 60

    chats = (MESSAGES + PER_CHAT - 1) // PER_CHAT
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
                         [(c, f"Chat {c}", start, start) for c in range(1, chats + 1)])
        conn.executemany("INSERT INTO messages (conversation_id, role, content, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?)", messages())
        rare_chat = 1 + RARE_AT // PER_CHAT
        deleted = [(time.time(), c) for c in range(1, chats + 1) if rng.random() < DELETED_SHARE and c != rare_chat]
        conn.executemany("UPDATE conversations SET deleted_at = ? WHERE id = ?", deleted)
        conn.execute("COMMIT")
    finally:
        conn.close()


def timed(run) -> float:
    began = time.perf_counter()
    run()
    return (time.perf_counter() - began) * 1000


def save_latency(store: Store, query: str) -> tuple[float, float]:
    """update_message times (median, max, ms) while another thread searches without pause."""
    chat = store.create_conversation("Streaming")
    answer = store.add_message(chat.id, "assistant", "", state="streaming")
    stop, searches = threading.Event(), [0]

    def searcher() -> None:
        while not stop.is_set():
            store.search(query)
            searches[0] += 1

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        times = []
        for i in range(60):
            times.append(timed(lambda: store.update_message(answer.id, content=f"word {i} " * 50)))
            time.sleep(0.005)
    finally:
        stop.set()
        thread.join()
    assert searches[0] > 0
    store.delete_conversation(chat.id)
    return median(times), max(times)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="hearth-search-bench-") as folder:
        path = Path(folder) / "hearth.sqlite3"
        began = time.perf_counter()
        build_history(path)
        build_s = time.perf_counter() - began
        store = Store(path)
        bare = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
        try:
            expressions = {name: fts_expression(text) for name, text in QUERIES.items()}
            matches = {name: bare.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?",
                                          (e,)).fetchone()[0] for name, e in expressions.items()}
            hits = {name: store.search(text) for name, text in QUERIES.items()}  # warms both connections too
            assert [h.message_id for h in hits["rare"]] == [RARE_AT + 1], "the rare word was not found"
            assert len(hits["common"]) == 50
            hearth: dict[str, list[float]] = {name: [] for name in QUERIES}
            fts: dict[str, list[float]] = {name: [] for name in QUERIES}
            for round_ in range(ROUNDS):
                for name, text in QUERIES.items():
                    sides = [(hearth[name], lambda: store.search(text)),
                             (fts[name], lambda: bare.execute(BARE, (expressions[name],)).fetchall())]
                    for times, run in sides if round_ % 2 == 0 else sides[::-1]:
                        times.append(timed(run))
            before = median([timed(lambda: bare.execute(BEFORE, ("[", "]", expressions["common"])).fetchall())
                             for _ in range(BEFORE_ROUNDS)])
            save_median, save_max = save_latency(store, QUERIES["common"])
        finally:
            bare.close()
            store.close()

    ms = {name: round(median(times), 2) for name, times in hearth.items()}
    fts_ms = {name: round(median(times), 2) for name, times in fts.items()}
    ratio = {name: round(median(hearth[name]) / median(fts[name]), 2) for name in QUERIES}
    figures = {"search_ratio": ratio["common"], "hearth_ms": ms["common"], "fts_ms": fts_ms["common"],
               "before_ms": round(before, 1), "messages": MESSAGES, "common_word": QUERIES["common"],
               "common_matches": matches["common"], "window": SEARCH_WINDOW}
    for name in ("two_words", "rare", "stopword"):
        figures.update({f"{name}_ratio": ratio[name], f"{name}_ms": ms[name], f"{name}_fts_ms": fts_ms[name],
                        f"{name}_matches": matches[name]})
    figures.update({"save_during_search_ms": round(save_median, 2), "save_during_search_max_ms": round(save_max, 2),
                    "rounds": ROUNDS, "build_s": round(build_s, 1)})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
