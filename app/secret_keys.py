"""Secret settings (API keys) kept out of settings.ini: in the system keyring (macOS Keychain,
Windows Credential Locker, the Secret Service on Linux) through the `keyring` package.

Where no keyring answers (keyring's fail backend on a headless Linux, a locked or broken one),
keys go to a file in Hearth's data folder that only the user can read (mode 0600), and
`note()` says so, so the Settings dialog can tell the user where their keys are. A key left in
that file moves into the keyring the first time the keyring answers again.

Generic by key name: any `secret=True` setting (`remote/api_key`, later `server/api_key`) is
stored under its own key name as the keyring's user name.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

SERVICE = "Hearth"
KEYS_FILE = "secret-keys.json"


def service_name() -> str:
    """"Hearth"; a data folder chosen with HEARTH_HOME (a test, a portable copy) gets its own
    service, so it never reads or overwrites the keys of the user's everyday Hearth."""
    home = os.environ.get("HEARTH_HOME")
    return f"{SERVICE} ({Path(home).resolve()})" if home else SERVICE


class SecretKeys:
    """Get, set and forget secret values by key name; an empty value forgets the key."""

    def __init__(self, folder: Path, service: str | None = None) -> None:
        self.file = Path(folder) / KEYS_FILE
        self.service = service or service_name()
        self._keyring_failed = False  # one failure is enough: this session uses the file
        self._lock = threading.Lock()

    # -- the three verbs -------------------------------------------------------
    def get(self, name: str) -> str:
        backend = self._keyring()
        if backend is not None:
            try:
                value = backend.get_password(self.service, name)
            except Exception:  # noqa: BLE001 - any backend error: keys go to the file this session
                self._keyring_failed = True
            else:
                if value is not None:
                    return value
                kept = self._read_file().get(name)
                if kept:  # kept in the file while no keyring answered: move it in now
                    self.set(name, kept)
                return kept or ""
        return self._read_file().get(name, "")

    def set(self, name: str, value: str) -> None:
        if not value:
            self.forget(name)
            return
        backend = self._keyring()
        if backend is not None:
            try:
                backend.set_password(self.service, name, value)
            except Exception:  # noqa: BLE001
                self._keyring_failed = True
            else:
                self._drop_from_file(name)
                return
        self._change_file(name, value)

    def forget(self, name: str) -> None:
        backend = self._keyring()
        if backend is not None:
            try:
                if backend.get_password(self.service, name) is not None:
                    backend.delete_password(self.service, name)
            except Exception:  # noqa: BLE001
                self._keyring_failed = True
        self._drop_from_file(name)

    # -- where keys are kept ---------------------------------------------------
    @property
    def in_keyring(self) -> bool:
        return self._keyring() is not None

    def note(self) -> str:
        """For the Settings dialog: where the keys typed there are kept (a file's path on a line of its own)."""
        backend = self._keyring()
        if backend is not None:
            return f"Keys are kept in the system keyring ({getattr(backend, 'name', type(backend).__name__)})."
        return f"No system keyring is available: keys are kept in a file readable only by you:\n{self.file}"

    # -- the keyring -------------------------------------------------------------
    def _keyring(self):  # noqa: ANN202 - a keyring.backend.KeyringBackend, or None when unusable
        if self._keyring_failed:
            return None
        try:
            import keyring
            from keyring.backends import fail, null

            backend = keyring.get_keyring()
        except Exception:  # noqa: BLE001 - not installed, or its backend discovery broke
            self._keyring_failed = True
            return None
        if isinstance(backend, (fail.Keyring, null.Keyring)):  # none found / deliberately turned off
            return None
        return backend

    # -- the fallback file -------------------------------------------------------
    def _read_file(self) -> dict[str, str]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}

    def _drop_from_file(self, name: str) -> None:
        if self.file.exists() and name in self._read_file():
            self._change_file(name, None)

    def _change_file(self, name: str, value: str | None) -> None:
        """Rewrite the file whole: a new file made 0600 from the start (mkstemp), then renamed over
        the old one, so the key is never readable by others, not even for a moment."""
        with self._lock:
            keys = self._read_file()
            if value is None:
                keys.pop(name, None)
            else:
                keys[name] = value
            self.file.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.file.parent, prefix=f".{self.file.name}.", suffix=".part")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(keys, out, indent=1)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(temporary, 0o600)  # mkstemp's mode already; said again for clarity and old umasks
                os.replace(temporary, self.file)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
