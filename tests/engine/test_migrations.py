"""The schema grows by appended migrations, and a history saved by an older Hearth still opens."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.store import MIGRATIONS, Store, StoreError, latest_version, migrate, schema_version


def test_a_new_database_gets_every_migration_in_order() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)

    applied = migrate(conn)

    assert applied == [step.__name__ for step in MIGRATIONS]
    assert schema_version(conn) == latest_version() == len(MIGRATIONS)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert {"conversations", "messages", "attachments", "messages_fts"} <= tables


def test_migrating_an_up_to_date_database_changes_nothing() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)

    assert migrate(conn) == []
    assert schema_version(conn) == latest_version()


def test_migration_names_are_unique_and_numbered() -> None:
    names = [step.__name__ for step in MIGRATIONS]
    assert len(set(names)) == len(names)
    assert names == sorted(names)
    assert all(name.startswith(f"m{number:03d}_") for number, name in enumerate(names, start=1))


def test_a_history_saved_at_version_1_opens_with_its_messages_searchable(tmp_path: Path) -> None:
    path = tmp_path / "hearth.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    migrate(old, target=1)
    assert schema_version(old) == 1
    old.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 'Old trip', 1.0, 2.0)"
    )
    old.execute(
        "INSERT INTO messages (conversation_id, role, content, state, created_at, updated_at) "
        "VALUES (1, 'user', 'Which museums open on Mondays in Lisbon?', 'complete', 1.0, 1.0), "
        "       (1, 'assistant', 'The Gulbenkian is closed on Tuesdays', 'streaming', 2.0, 2.0)"
    )
    old.close()

    store = Store(path)

    assert schema_version(store._conn) == latest_version()
    assert [c.title for c in store.list_conversations()] == ["Old trip"]
    assert [m.content for m in store.messages(1)][0] == "Which museums open on Mondays in Lisbon?"
    assert [hit.message_id for hit in store.search("lisbon")] == [1]
    assert [hit.message_id for hit in store.search("gulbenk")] == [2]
    assert store.messages(1)[1].state == "interrupted"  # it was cut off when the old app stopped
    store.add_message(1, "user", "And in Porto?")
    assert [hit.message_id for hit in store.search("porto")] == [3]
    store.close()


def test_a_history_from_a_newer_hearth_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "hearth.sqlite3"
    Store(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()
    before = path.read_bytes()

    with pytest.raises(StoreError, match="newer version of Hearth"):
        Store(path)
    with pytest.raises(StoreError, match="newer version of Hearth"):
        Store.open_or_recover(path)

    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_a_failing_migration_leaves_the_previous_version_intact(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn, target=1)

    def m999_broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr("engine.store.migrations.MIGRATIONS", [MIGRATIONS[0], m999_broken])
    with pytest.raises(RuntimeError):
        migrate(conn)

    assert schema_version(conn) == 1
    assert conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'").fetchone()[0] == 0
