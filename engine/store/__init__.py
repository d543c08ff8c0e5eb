"""Hearth's chat history: conversations, messages and attachments in SQLite (no Qt)."""
from .database import Store
from .migrations import MIGRATIONS, latest_version, migrate, schema_version
from .records import (
    ROLES,
    SNIPPET_CLOSE,
    SNIPPET_OPEN,
    STATES,
    Attachment,
    Conversation,
    Message,
    RecoveryReport,
    SearchHit,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    ToolStep,
)

__all__ = [
    "MIGRATIONS",
    "ROLES",
    "SNIPPET_CLOSE",
    "SNIPPET_OPEN",
    "STATES",
    "Attachment",
    "Conversation",
    "Message",
    "RecoveryReport",
    "SearchHit",
    "Store",
    "StoreCorruptError",
    "StoreError",
    "StoreFullError",
    "ToolStep",
    "latest_version",
    "migrate",
    "schema_version",
]
