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
    Thinking,
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
    "Thinking",
    "ToolStep",
    "latest_version",
    "migrate",
    "schema_version",
]
