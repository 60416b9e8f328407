"""Hearth's SQLite database, hearth.db: its schema migrations and the conversation store."""

from backend.store.conversations import (
    Conversation,
    ConversationNotFoundError,
    ConversationStore,
    Message,
    MessageNotFoundError,
    MessageStatus,
    Role,
)
from backend.store.database import DatabaseTooNewError, connect

__all__ = [
    "Conversation",
    "ConversationNotFoundError",
    "ConversationStore",
    "DatabaseTooNewError",
    "Message",
    "MessageNotFoundError",
    "MessageStatus",
    "Role",
    "connect",
]
