"""Hearth's SQLite database, hearth.db: its schema migrations and the conversation store."""

from backend.store.conversations import (
    ConversationNotFoundError,
    ConversationStore,
    MessageNotFoundError,
)
from backend.store.database import DatabaseTooNewError, connect

__all__ = [
    "ConversationNotFoundError",
    "ConversationStore",
    "DatabaseTooNewError",
    "MessageNotFoundError",
    "connect",
]
