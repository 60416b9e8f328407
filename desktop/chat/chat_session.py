"""The open conversation behind ChatView: which one is shown (and whether a fetch for it is
stale), sending to it, and its title, model, collections and settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QInputDialog, QWidget

from backend.quick_actions import QuickAction, expand_command
from desktop.backend_connection import BackendConnection
from desktop.backend_state import BackendState
from desktop.chat.chat_view import ChatView
from desktop.chat.conversation_settings import ConversationChanges, ConversationSettingsDialog
from desktop.chat.image_attachments import ImageAttachments
from desktop.chat.message_view import UNSAVED_ID
from desktop.chat.reply_stream import ReplyStream

if TYPE_CHECKING:
    from backend.client import HearthClient
    from backend.wire import Conversation, ConversationDetail, DocumentText, Message, Source

TITLE_WORDS = 8
# A stopped reply is stored once the backend sees the disconnect: asked for every 200 ms, 5 s.
STORED_POLL_MS = 200
STORED_POLLS = 25
NOT_RUNNING = "The engine is not running; your message is kept, send it again in a moment."
DRAFT_ID = ""  # the id the settings dialog gets for a chat its first message will create


def title_from(text: str) -> str:
    words = text.split()
    title = " ".join(words[:TITLE_WORDS])
    return title + ("…" if len(words) > TITLE_WORDS else "")


def create_with_choices(
    api: HearthClient, title: str, model: str | None, choices: ConversationChanges
) -> Conversation:
    """A new chat with the collections and settings chosen before it existed (worker
    thread)."""
    created = api.conversations.create(title, model)
    if choices:
        created = api.conversations.update(created.id, **choices)
    return created


def draft_conversation(choices: ConversationChanges) -> Conversation:
    """The chat not yet created, as its settings dialog shows it."""
    from backend.wire import Conversation, ConversationSettings

    settings = ConversationSettings.model_validate(choices.get("settings") or {})
    prompt = choices.get("system_prompt")
    return Conversation(
        id=DRAFT_ID,
        title="New chat",
        created_at=0,
        updated_at=0,
        system_prompt=prompt,
        settings=settings,
    )


class ChatSession(QObject):
    """Owns the open conversation; its reply streams through `replies`, and the images for the
    next message wait in `attachments`. Each chat has its own ReplyStream: a reply goes on
    while another chat is open, and shows again when its chat is."""

    conversation_changed = Signal(object)  # the Conversation (created, renamed, opened)
    token_received = Signal(str)  # each streamed piece, as it arrives
    error = Signal(str)
    notice = Signal(str)  # about the user's own action: shown even while the engine starts

    def __init__(self, connection: BackendConnection, view: ChatView) -> None:
        super().__init__(view)
        self.connection = connection
        self.view = view
        self.conversation: Conversation | None = None
        self._replies: dict[str, ReplyStream] = {}  # by conversation id; DRAFT_ID: none yet
        self._titles: dict[str, str] = {}  # of the chats whose replies run, for waiting notes
        self.attachments = ImageAttachments(connection, view.composer, view.thumbnails, self)
        self._new_chat_choices: ConversationChanges = {}  # made before the chat exists
        # Bumped by each open and each new reply: a conversation fetched before either is stale.
        self._view_version = 0
        self._wanted_id: str | None = None  # the conversation the user opened last
        self.attachments.error.connect(self.error)
        view.send_requested.connect(self.send)
        view.stop_requested.connect(self.stop)
        view.regenerate_requested.connect(self.regenerate)
        view.model_chosen.connect(self.choose_model)
        view.collections_chosen.connect(self.choose_collections)
        view.settings_requested.connect(self.edit_settings)
        view.settings_chosen.connect(self._update_conversation)
        view.quick_action_chosen.connect(self.run_quick_action)
        view.version_requested.connect(self.show_version)
        view.document_actions_requested.connect(self.offer_document_actions)
        connection.connected.connect(self.reload)

    @property
    def replies(self) -> ReplyStream:
        """The open chat's reply stream (idle when it has no reply running)."""
        return self._replies_of(self._wanted_id or DRAFT_ID)

    @property
    def generating(self) -> bool:
        """The open chat's reply is running (another chat's may be, out of sight)."""
        return self.replies.generating

    def _replies_of(self, conversation_id: str) -> ReplyStream:
        replies = self._replies.get(conversation_id)
        if replies is None:
            replies = self._replies[conversation_id] = ReplyStream(self.connection, self.view, self)
            replies.token_received.connect(self.token_received)
            replies.error.connect(self.error)
            replies.nothing_shown.connect(self.reload)
            replies.stopped.connect(
                lambda conversation_id: self._show_stopped_as_stored(
                    conversation_id, self._view_version, STORED_POLLS
                )
            )
            replies.ended.connect(self._on_reply_ended)
            replies.replying_elsewhere = lambda: self._replying_elsewhere(conversation_id)
        return replies

    def _replying_elsewhere(self, conversation_id: str) -> str | None:
        """The title of another chat whose reply runs (the first, if several)."""
        others = (i for i, r in self._replies.items() if i != conversation_id and r.generating)
        other = next(others, None)
        return self._titles.get(other, "another chat") if other is not None else None

    def _on_reply_ended(self, conversation_id: str) -> None:
        self.connection.set_busy(any(r.generating for r in self._replies.values()))
        if conversation_id == self._wanted_id and not self._replies[conversation_id].shown:
            self.reload()  # it ended while its chat was being fetched: show how it ended

    # Opening -------------------------------------------------------------------------------

    def open(self, conversation_id: str | None) -> None:
        self._view_version += 1
        version = self._view_version
        self.replies.detach()  # a reply in the chat left goes on out of sight
        self.view.set_generating(False)  # until a reply of the chat opened shows itself
        self._wanted_id = conversation_id
        self.view.discard_edit()  # an edit belongs to the chat it was started in
        if conversation_id is None:
            self.conversation = None
            self.view.show_conversation(None, [])
            self._new_chat_choices = {}
            return
        self.connection.call(
            lambda api: api.conversations.get(conversation_id),
            lambda stored: self._show_stored(stored, version),
            self.error.emit,
        )

    def reload(self) -> None:
        """Show the open conversation as the backend holds it (the one last asked for, even
        while its fetch is still on the way)."""
        if self._wanted_id is not None and not self.generating:
            self.open(self._wanted_id)

    def show_renamed(self, conversation: Conversation) -> None:
        if self.conversation is not None and conversation.id == self.conversation.id:
            self.conversation.title = conversation.title
            self.view.show_title(conversation.title)

    def _show_stored(self, stored: ConversationDetail, version: int) -> None:
        if version != self._view_version:
            # E.g. the reload after a restart, answered once Retry had begun a new reply: that
            # reply's live view must stay.
            return
        self.conversation = stored.conversation
        messages = self.replies.with_cut_off_reply(self.conversation.id, stored.messages)
        self.view.show_conversation(self.conversation, messages)
        self.replies.attach()  # the reply still running in this chat, if any
        self.conversation_changed.emit(self.conversation)

    # Sending -------------------------------------------------------------------------------

    def send(self, text: str, editing: Message | None = None) -> None:
        """Send the composer's text and images; they stay in the composer until a reply starts."""
        if self.generating:
            return
        if not self.connection.is_ready:
            self._keep_draft(text, editing, self._why_not_ready())
            return
        text = expand_command(text, self.view.quick_actions) or text  # `/summarize …`
        images = self.attachments.pending()
        if self.conversation is None:
            model = self.view.chosen_model()  # chosen before the chat existed
            choices = ConversationChanges(**self._new_chat_choices)
            self.connection.call(
                lambda api: create_with_choices(api, title_from(text), model, choices),
                lambda created: self._send_in_new(created, text, images),
                lambda message: self._keep_draft(text, None, message),
            )
            return
        replace_from = editing.id if editing else None
        if self._start_reply(text, replace_from, images):
            self.attachments.clear()
        else:
            self._keep_draft(text, editing, NOT_RUNNING)

    def _send_in_new(self, conversation: Conversation, text: str, images: list[str]) -> None:
        self._view_version += 1  # a fetch still on the way is for the chat left behind
        self._wanted_id = conversation.id
        self.conversation = conversation
        self.view.show_conversation(conversation, [])
        self.conversation_changed.emit(conversation)
        if self._start_reply(text, None, images):
            self.attachments.clear()
        else:
            self._keep_draft(text, None, NOT_RUNNING)

    def _why_not_ready(self) -> str:
        if self.connection.state == BackendState.ERROR:
            return "The engine is not running: use Restart engine, bottom right. Message kept."
        return "The engine is still starting; send again in a moment."

    def _keep_draft(self, text: str, editing: Message | None, why: str) -> None:
        self.view.restore_draft(text, editing)
        self.notice.emit(why)

    def run_quick_action(self, action: QuickAction, text: str, argument: str | None = None) -> None:
        """Send the action's prompt over `text`, asking for its argument (a language) first
        when it takes one and none is given."""
        if action.argument and argument is None:
            argument, ok = QInputDialog.getText(
                self.view, action.label, f"{action.argument}:", text=action.default_argument or ""
            )
            if not ok or not argument.strip():
                return
        self.send(action.apply(text, argument))

    def offer_document_actions(self, source: Source, button: QWidget) -> None:
        """The quick actions on a cited document, once its indexed text has arrived; a document
        longer than a prompt can hold is given from its start, and the user is told."""

        def offer(document: DocumentText) -> None:
            if not document.complete:
                self.notice.emit(
                    f"{Path(document.path).name} is long: a quick action reads its first "
                    f"{len(document.text):,} characters."
                )
            self.view.show_quick_actions(button, document.text)

        self.connection.call(
            lambda api: api.documents.text(source.collection, source.path),
            offer,
            self.error.emit,
        )

    def show_version(self, reply: Message, number: int) -> None:
        """Show another version of a regenerated reply; the chat continues from it."""
        if self.generating:
            return
        conversation_id = reply.conversation_id
        self.connection.call(
            lambda api: api.conversations.show_version(conversation_id, reply.id, number),
            lambda _shown: self.reload(),
            self.error.emit,
        )

    def regenerate(self, reply: Message) -> None:
        """Resend the user message before `reply`, replacing it and everything after it."""
        if self.generating:
            return
        question = self.view.user_message_before(reply)
        if question is not None and question.id != UNSAVED_ID:
            # The stored copies of its images go again with it.
            images = [attachment.path for attachment in question.attachments]
            if not self._start_reply(question.content, question.id, images):
                self.notice.emit(NOT_RUNNING)

    def _start_reply(self, text: str, replace_from: int | None, images: list[str]) -> bool:
        """Begin the reply; False when there is no engine to send it to."""
        assert self.conversation is not None
        conversation_id = self.conversation.id
        if not self._replies_of(conversation_id).start(conversation_id, text, replace_from, images):
            return False
        self._view_version += 1  # a fetch answered now would replace the reply's live view
        self._maybe_retitle(text)
        self._titles[conversation_id] = self.conversation.title
        return True

    def _maybe_retitle(self, text: str) -> None:
        """A chat still called "New chat" is named after its first question."""
        if self.conversation is None or self.conversation.title != "New chat":
            return
        conversation_id, title = self.conversation.id, title_from(text)
        self.conversation.title = title
        self.view.show_title(title)
        self.connection.call(
            lambda api: api.conversations.update(conversation_id, title=title),
            self._on_conversation_updated,
        )

    def stop(self) -> None:
        self.replies.stop()

    def _show_stopped_as_stored(self, conversation_id: str, version: int, polls: int) -> None:
        """The backend writes on until it sees Stop's disconnect: once it has stored the reply,
        show the stored text, so the reply reads as it will when the chat is opened again."""

        def show_if_stored(stored: ConversationDetail) -> None:
            if version != self._view_version or self._wanted_id != conversation_id:
                return  # another chat was opened, or another reply begun
            last = stored.messages[-1] if stored.messages else None
            if last is not None and last.role == "assistant" and last.status == "interrupted":
                self._show_stored(stored, version)
            elif polls > 1:
                QTimer.singleShot(
                    STORED_POLL_MS,
                    lambda: self._show_stopped_as_stored(conversation_id, version, polls - 1),
                )

        self.connection.call(lambda api: api.conversations.get(conversation_id), show_if_stored)

    # What the chat answers with: collections, model and settings ------------------------

    def choose_collections(self, names: list[str]) -> None:
        if self.conversation is None:
            self._new_chat_choices["collections"] = list(names)  # applied at creation
            return
        self._update_conversation(self.conversation.id, {"collections": names})

    def choose_model(self, model: str | None) -> None:
        if self.conversation is None:
            return  # the first message creates the chat with the picker's model
        self._update_conversation(self.conversation.id, {"model": model})

    def edit_settings(self) -> ConversationSettingsDialog:
        """A chat not created yet keeps what is chosen for its first message to apply."""
        if self.conversation is None:
            return self.view.edit_settings(draft_conversation(self._new_chat_choices))
        return self.view.edit_settings(self.conversation)

    def _update_conversation(self, conversation_id: str, changes: ConversationChanges) -> None:
        if conversation_id == DRAFT_ID:
            if self.conversation is None:  # unless the first message was sent meanwhile
                self._new_chat_choices.update(changes)
            return
        self.connection.call(
            lambda api: api.conversations.update(conversation_id, **changes),
            self._on_conversation_updated,
            self.error.emit,
        )

    def _on_conversation_updated(self, conversation: Conversation) -> None:
        # The user may have opened another chat since: only the open one is reflected.
        if self.conversation is not None and conversation.id == self.conversation.id:
            self.conversation = conversation
            self.conversation_changed.emit(conversation)
