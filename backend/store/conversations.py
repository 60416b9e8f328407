"""Conversations and their messages in hearth.db; their types are the wire's (`backend.wire`)."""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import get_args

from backend.errors import InvalidRequestError, NotFoundError
from backend.store.chat_export import ImportedChat
from backend.store.database import connect, transaction
from backend.wire import (
    Attachment,
    Conversation,
    ConversationSettings,
    GenerationReport,
    Message,
    MessageStatus,
    ReplyVersion,
    Role,
    Source,
)


class ConversationNotFoundError(NotFoundError, LookupError):
    """No conversation has the requested id."""

    code = "conversation_not_found"


class MessageNotFoundError(NotFoundError, LookupError):
    """The conversation holds no message with the requested id."""

    code = "message_not_found"


class VersionNotFoundError(InvalidRequestError, LookupError):
    code = "version_not_found"


class _Unset(Enum):
    """Marks an `update_settings` argument that was not passed, since None is a valid value."""

    UNSET = "unset"


UNSET = _Unset.UNSET


def _conversation_from_row(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        title=row["title"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        system_prompt=row["system_prompt"],
        model=row["model"],
        settings=_settings_from(json.loads(row["settings"])),
        collections=json.loads(row["collections"]),
    )


def _settings_from(stored: object) -> ConversationSettings:
    # Chats from before the settings were typed may hold keys no sampling ever used.
    chosen = stored if isinstance(stored, dict) else {}
    known = {k: v for k, v in chosen.items() if k in ConversationSettings.model_fields}
    return ConversationSettings.model_validate(known)


def _json_list(
    items: Sequence[Attachment] | Sequence[Source] | Sequence[ReplyVersion] | None,
) -> str:
    return json.dumps([item.model_dump(mode="json") for item in items or ()])


def _message_from_row(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=row["role"],
        content=row["content"],
        model=row["model"],
        created_at=row["created_at"],
        status=row["status"],
        timings=None if row["timings"] is None else json.loads(row["timings"]),
        attachments=json.loads(row["attachments"]),
        sources=json.loads(row["sources"]),
        versions=json.loads(row["versions"]),
    )


class ConversationStore:
    """The repository of conversations, safe to share between the threads of one process.

    It holds one connection behind a lock rather than one connection per call: writes are
    serialised anyway by SQLite, and a single connection never waits on its own other
    connections for the write lock or pays the cost of reopening the file.
    """

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._conn.create_function("casefold", 1, str.casefold, deterministic=True)
        self._lock = threading.Lock()
        self._last_time = 0.0

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def create(
        self, title: str = "New chat", system_prompt: str | None = None, model: str | None = None
    ) -> Conversation:
        with self._lock, transaction(self._conn):
            now = self._now()
            conversation = Conversation(
                id=uuid.uuid4().hex,
                title=title,
                created_at=now,
                updated_at=now,
                system_prompt=system_prompt,
                model=model,
            )
            self._conn.execute(
                "INSERT INTO conversations"
                " (id, title, created_at, updated_at, system_prompt, model)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (conversation.id, title, now, now, system_prompt, model),
            )
        return conversation

    def add_imported(self, chat: ImportedChat) -> Conversation:
        """Store an imported chat as a new one in one transaction, its messages keeping their
        own times; it lists first, as just changed."""
        with self._lock, transaction(self._conn):
            conversation = Conversation(
                id=uuid.uuid4().hex,
                title=chat.title,
                created_at=chat.created_at,
                updated_at=self._now(),
                system_prompt=chat.system_prompt,
                model=chat.model,
                settings=chat.settings,
            )
            self._conn.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at, system_prompt,"
                " model, settings) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation.id,
                    chat.title,
                    chat.created_at,
                    conversation.updated_at,
                    chat.system_prompt,
                    chat.model,
                    json.dumps(chat.settings.model_dump(mode="json")),
                ),
            )
            self._conn.executemany(
                "INSERT INTO messages (conversation_id, role, content, model, created_at,"
                " status, attachments, sources) VALUES (?, ?, ?, ?, ?, 'complete', ?, ?)",
                [
                    (
                        conversation.id,
                        m.role,
                        m.content,
                        m.model,
                        m.created_at,
                        _json_list(m.attachments),
                        _json_list(m.sources),
                    )
                    for m in chat.messages
                ],
            )
        return conversation

    def get(self, conversation_id: str) -> Conversation:
        with self._lock:
            return self._get(conversation_id)

    # Below this method, annotations say `builtins.list` because here `list` names the method.
    def list(self, query: str | None = None) -> list[Conversation]:
        """Newest-updated first; with `query`, those whose title or any message contains it."""
        sql = "SELECT * FROM conversations"
        params: tuple[str, ...] = ()
        if query:
            # Python's casefold, unlike SQL LIKE, ignores case beyond ASCII and has no wildcards.
            sql += (
                " WHERE instr(casefold(title), ?) OR EXISTS (SELECT 1 FROM messages m"
                " WHERE m.conversation_id = conversations.id AND instr(casefold(m.content), ?))"
            )
            params = (query.casefold(), query.casefold())
        sql += " ORDER BY updated_at DESC, rowid DESC"
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [_conversation_from_row(row) for row in rows]

    def rename(self, conversation_id: str, title: str) -> Conversation:
        return self._update(conversation_id, {"title": title})

    def update_settings(
        self,
        conversation_id: str,
        *,
        system_prompt: str | None | _Unset = UNSET,
        model: str | None | _Unset = UNSET,
        settings: ConversationSettings | None | _Unset = UNSET,
        collections: builtins.list[str] | _Unset = UNSET,
    ) -> Conversation:
        """Change only the fields passed; None clears the system prompt, model or settings."""
        changes: dict[str, object] = {}
        if system_prompt is not UNSET:
            changes["system_prompt"] = system_prompt
        if model is not UNSET:
            changes["model"] = model
        if settings is not UNSET:
            chosen = settings or ConversationSettings()
            changes["settings"] = json.dumps(chosen.model_dump(mode="json"))
        if collections is not UNSET:
            changes["collections"] = json.dumps(collections)
        return self._update(conversation_id, changes)

    def forget_collection(self, name: str) -> int:
        """Take a removed document collection out of every chat that answered from it (their
        `updated_at` stays: nothing the user did there changed); returns how many."""
        with self._lock, transaction(self._conn):
            rows = self._conn.execute(
                "SELECT id, collections FROM conversations WHERE collections != '[]'"
            ).fetchall()
            changed = [
                (json.dumps([c for c in json.loads(row["collections"]) if c != name]), row["id"])
                for row in rows
                if name in json.loads(row["collections"])
            ]
            self._conn.executemany("UPDATE conversations SET collections = ? WHERE id = ?", changed)
        return len(changed)

    def delete(self, conversation_id: str) -> None:
        """Delete the conversation and, through the foreign key, all its messages."""
        with self._lock, transaction(self._conn):
            cursor = self._conn.execute(
                "DELETE FROM conversations WHERE id = ?", (conversation_id,)
            )
            if cursor.rowcount == 0:
                raise ConversationNotFoundError(f"No conversation with id {conversation_id!r}.")

    def add_message(
        self,
        conversation_id: str,
        role: Role,
        content: str,
        *,
        model: str | None = None,
        status: MessageStatus = "complete",
        timings: GenerationReport | None = None,
        attachments: Sequence[Attachment] | None = None,
        sources: Sequence[Source] | None = None,
        versions: Sequence[ReplyVersion] | None = None,
    ) -> Message:
        """Store a message (or a reply just started, as 'generating') and commit at once, so a
        crash later cannot lose it. `versions`: the replies a regenerated one replaces."""
        if role not in get_args(Role):
            raise ValueError(f"Message role must be one of {get_args(Role)}, not {role!r}.")
        if status not in get_args(MessageStatus):
            raise ValueError(f"Message status must be one of {get_args(MessageStatus)}.")
        with self._lock, transaction(self._conn):
            now = self._now()
            self._touch(conversation_id, now)
            cursor = self._conn.execute(
                "INSERT INTO messages (conversation_id, role, content, model, created_at, status,"
                " timings, attachments, sources, versions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    role,
                    content,
                    model,
                    now,
                    status,
                    None if timings is None else timings.model_dump_json(),
                    _json_list(attachments),
                    _json_list(sources),
                    _json_list(versions),
                ),
            )
            row = self._conn.execute(
                "SELECT * FROM messages WHERE id = ?", (cursor.lastrowid,)
            ).fetchone()
        return _message_from_row(row)

    def update_message(
        self,
        conversation_id: str,
        message_id: int,
        content: str,
        *,
        status: MessageStatus,
        model: str | None = None,
        timings: GenerationReport | None = None,
    ) -> Message:
        """Replace a stored reply's text and status as it streams and when it ends."""
        with self._lock, transaction(self._conn):
            self._touch(conversation_id, self._now())
            cursor = self._conn.execute(
                "UPDATE messages SET content = ?, status = ?, model = coalesce(?, model),"
                " timings = ? WHERE id = ? AND conversation_id = ?",
                (
                    content,
                    status,
                    model,
                    None if timings is None else timings.model_dump_json(),
                    message_id,
                    conversation_id,
                ),
            )
            if cursor.rowcount == 0:
                raise MessageNotFoundError(
                    f"Conversation {conversation_id!r} has no message with id {message_id}."
                )
            row = self._conn.execute(
                "SELECT * FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        return _message_from_row(row)

    def show_version(self, conversation_id: str, message_id: int, number: int) -> Message:
        """Show a reply's version `number` (1 = oldest, as `< 1/3 >`): it becomes the message's
        text, which later turns continue from, and the one shown so far joins the others."""
        with self._lock, transaction(self._conn):
            row = self._conn.execute(
                "SELECT * FROM messages WHERE id = ? AND conversation_id = ?",
                (message_id, conversation_id),
            ).fetchone()
            if row is None:
                raise MessageNotFoundError(
                    f"Conversation {conversation_id!r} has no message with id {message_id}."
                )
            message = _message_from_row(row)
            versions = message.all_versions()
            if not 1 <= number <= len(versions):
                raise VersionNotFoundError(
                    f"Message {message_id} has {len(versions)} versions; there is no {number}.",
                    param="version",
                )
            shown = versions.pop(number - 1)
            self._conn.execute(
                "UPDATE messages SET content = ?, model = ?, created_at = ?, status = ?,"
                " timings = ?, sources = ?, versions = ? WHERE id = ?",
                (
                    shown.content,
                    shown.model,
                    shown.created_at,
                    shown.status,
                    None if shown.timings is None else shown.timings.model_dump_json(),
                    _json_list(shown.sources),
                    _json_list(versions),
                    message_id,
                ),
            )
            row = self._conn.execute(
                "SELECT * FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        return _message_from_row(row)

    def interrupt_unfinished(self) -> int:
        """Mark replies left 'generating' by a server that stopped mid-reply as interrupted (they
        keep the text stored so far); call it at start-up, before any reply starts."""
        with self._lock, transaction(self._conn):
            cursor = self._conn.execute(
                "UPDATE messages SET status = 'interrupted' WHERE status = 'generating'"
            )
        return cursor.rowcount

    def messages(self, conversation_id: str) -> builtins.list[Message]:
        """The conversation's messages in the order they were added."""
        with self._lock:
            self._get(conversation_id)
            rows = self._conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
            ).fetchall()
        return [_message_from_row(row) for row in rows]

    def delete_messages_from(self, conversation_id: str, message_id: int) -> int:
        """Delete a message and every later one (edit-and-resend, regenerate); return how many."""
        with self._lock, transaction(self._conn):
            self._touch(conversation_id, self._now())
            found = self._conn.execute(
                "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?",
                (message_id, conversation_id),
            ).fetchone()
            if found is None:
                raise MessageNotFoundError(
                    f"Conversation {conversation_id!r} has no message with id {message_id}."
                )
            cursor = self._conn.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND id >= ?",
                (conversation_id, message_id),
            )
        return cursor.rowcount

    def _get(self, conversation_id: str) -> Conversation:
        row = self._conn.execute(
            "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise ConversationNotFoundError(f"No conversation with id {conversation_id!r}.")
        return _conversation_from_row(row)

    def _update(self, conversation_id: str, changes: dict[str, object]) -> Conversation:
        # Column names come from the fixed keys of the callers, never from user input.
        assignments = "".join(f", {column} = ?" for column in changes)
        with self._lock, transaction(self._conn):
            cursor = self._conn.execute(
                f"UPDATE conversations SET updated_at = ?{assignments} WHERE id = ?",
                (self._now(), *changes.values(), conversation_id),
            )
            if cursor.rowcount == 0:
                raise ConversationNotFoundError(f"No conversation with id {conversation_id!r}.")
            return self._get(conversation_id)

    def _touch(self, conversation_id: str, now: float) -> None:
        cursor = self._conn.execute(
            "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
        )
        if cursor.rowcount == 0:
            raise ConversationNotFoundError(f"No conversation with id {conversation_id!r}.")

    def _now(self) -> float:
        # Strictly increasing, so "newest-updated first" holds even on clocks that tick in
        # milliseconds (Windows) when two changes land in the same tick.
        self._last_time = max(time.time(), self._last_time + 1e-6)
        return self._last_time
