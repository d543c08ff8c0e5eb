"""A user's API key for their remote server is kept safe: in the system keyring, never in
settings.ini; where no keyring exists, in a file only they can read, and Settings says where."""
from __future__ import annotations

import os
import stat
import sys

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringLocked, PasswordDeleteError

from app.secret_keys import KEYS_FILE, SecretKeys, service_name
from app.settings import SETTINGS, Settings

KEY = "sk-live-0123456789abcdef"


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps its entries in this process (the system's stays untouched)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class LockedKeyring(MemoryKeyring):
    """A keyring that is there but refuses every request (locked, or its daemon is broken)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the login keyring is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the login keyring is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("the login keyring is locked")


@pytest.fixture
def use_keyring():
    """Install a keyring backend for one test and put the previous one back afterwards."""
    previous = keyring.get_keyring()

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield install
    keyring.set_keyring(previous)


def ini_text(hearth_home) -> str:
    path = hearth_home / "settings.ini"
    return path.read_text() if path.exists() else ""


def test_a_typed_key_goes_to_the_keyring_not_settings_ini_and_survives_a_restart(use_keyring, hearth_home):
    ring = use_keyring(MemoryKeyring())
    settings = Settings()
    settings.set("remote/base_url", "https://llm.example.org/v1")  # an ordinary setting: the ini exists
    settings.set("remote/api_key", KEY)

    assert KEY not in ini_text(hearth_home) and "api_key" not in ini_text(hearth_home)
    assert ring.entries == {(service_name(), "remote/api_key"): KEY}
    assert service_name().startswith("Hearth")
    assert not (hearth_home / KEYS_FILE).exists()

    restarted = Settings()  # Hearth quit and started again
    assert restarted.get("remote/api_key") == KEY
    assert restarted.values()["remote/api_key"] == KEY
    assert restarted.keys.note().startswith("Keys are kept in the system keyring")

    restarted.set("remote/api_key", "")  # the user clears the field: the key is forgotten everywhere
    assert ring.entries == {}
    assert Settings().get("remote/api_key") == ""


def test_a_key_an_older_hearth_left_in_settings_ini_moves_to_the_keyring_on_first_start(use_keyring, hearth_home):
    ring = use_keyring(MemoryKeyring())
    (hearth_home / "settings.ini").write_text(
        f"[remote]\nenabled=true\napi_key={KEY}\nbase_url=https://llm.example.org/v1\n")

    settings = Settings()

    assert settings.get("remote/api_key") == KEY
    assert ring.entries[(service_name(), "remote/api_key")] == KEY
    text = ini_text(hearth_home)
    assert KEY not in text and "api_key" not in text
    assert settings.get("remote/enabled") is True and settings.get("remote/base_url") == "https://llm.example.org/v1"


def test_without_a_system_keyring_the_key_lives_in_a_file_only_the_user_can_read(use_keyring, hearth_home):
    use_keyring(fail.Keyring())  # what this headless Linux has: keyring found no backend
    (hearth_home / "settings.ini").write_text(f"[remote]\napi_key={KEY}\n")

    settings = Settings()

    keys_file = hearth_home / KEYS_FILE
    assert settings.get("remote/api_key") == KEY
    assert KEY not in ini_text(hearth_home)
    assert KEY in keys_file.read_text()
    if sys.platform != "win32":
        assert stat.S_IMODE(os.stat(keys_file).st_mode) == 0o600
    assert settings.keys.note() == ("No system keyring is available: keys are kept in a file readable only "
                                    f"by you:\n{keys_file}")
    assert Settings().get("remote/api_key") == KEY, "the key survives a restart"
    assert not [p for p in hearth_home.iterdir() if p.name.endswith(".part")], "no half-written key file left"


def test_a_keyring_that_refuses_falls_back_to_the_file_and_the_key_moves_in_once_it_answers(use_keyring, hearth_home):
    use_keyring(LockedKeyring())
    Settings().set("remote/api_key", KEY)
    assert KEY in (hearth_home / KEYS_FILE).read_text()

    ring = use_keyring(MemoryKeyring())  # unlocked at the next start
    assert Settings().get("remote/api_key") == KEY
    assert ring.entries == {(service_name(), "remote/api_key"): KEY}
    assert KEY not in (hearth_home / KEYS_FILE).read_text()


def test_the_store_is_generic_by_key_name(use_keyring, tmp_path):
    ring = use_keyring(MemoryKeyring())
    keys = SecretKeys(tmp_path, service="Hearth")
    keys.set("server/api_key", "serve-me")
    keys.set("remote/api_key", KEY)
    assert keys.get("server/api_key") == "serve-me" and keys.get("remote/api_key") == KEY
    assert keys.get("nothing/here") == ""
    assert set(ring.entries) == {("Hearth", "server/api_key"), ("Hearth", "remote/api_key")}


def test_settings_says_where_the_key_is_kept_next_to_the_key_field(qtbot, use_keyring, hearth_home):
    from PySide6.QtWidgets import QLabel, QTabWidget

    from ui.settings_dialog import SettingsDialog

    use_keyring(fail.Keyring())
    settings = Settings()
    settings.set("remote/api_key", KEY)
    dialog = SettingsDialog(SETTINGS, settings.values(), secret_note=settings.keys.note())
    qtbot.addWidget(dialog)
    field = dialog.editor("remote/api_key")
    note = dialog.findChild(QLabel, "remote_api_key_note")

    assert field.text() == KEY and field.echoMode() == field.EchoMode.Password
    tabs = dialog.findChild(QTabWidget)
    remote = tabs.widget([tabs.tabText(i) for i in range(tabs.count())].index("Remote"))
    assert note is not None and remote.isAncestorOf(note) and remote.isAncestorOf(field), \
        "the note sits on the Remote page with the key field"
    assert note.text().startswith("No system keyring is available") and str(hearth_home / KEYS_FILE) in note.text()
