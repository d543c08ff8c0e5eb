"""The local server's key: made by Hearth, shown to the user once, sent by every app."""
from __future__ import annotations

import secrets


def new_key() -> str:
    """A fresh key ('hearth-' and 32 random URL-safe characters)."""
    return f"hearth-{secrets.token_urlsafe(24)}"
