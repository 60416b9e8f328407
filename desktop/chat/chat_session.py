"""The chat logic behind ChatView: open a conversation, send (with images), stream, stop, edit,
regenerate, the collections a chat answers from, and opening a cited source."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from desktop.backend_connection import BackendConnection
from desktop.backend_state import BackendState
from desktop.chat.chat_view import ChatView, format_stats
from desktop.chat.conversation_settings import ConversationSettingsDialog
from desktop.chat.message_view import MessageView
from desktop.documents.source_preview import SourcePreviewDialog
from desktop.images.image_chip import ImageChip
from desktop.images.pasted_image import pasted_image_reference
from desktop.workers import StreamOperation

RENDER_INTERVAL_MS = 40  # re-render streamed Markdown at most 25 times a second
TITLE_WORDS = 8
NOT_RUNNING = "The engine is not running; your message is kept, send it again in a moment."


def title_from(text: str) -> str:
    words = text.split()
    title = " ".join(words[:TITLE_WORDS])
    return title + ("…" if len(words) > TITLE_WORDS else "")


def create_with_collections(
    api: Any, title: str, model: str | None, collections: list[str]
) -> dict[str, Any]:
    """A new chat, attached to the collections chosen before it existed (worker thread)."""
    created: dict[str, Any] = api.create_conversation(title, model)
    if collections:
        created = api.update_conversation(created["id"], collections=collections)
    return created


class ChatSession(QObject):
    """Owns the open conversation and at most one streaming reply."""

    conversation_changed = Signal(object)  # the conversation dict (created, renamed, opened)
    token_received = Signal(str)  # each streamed piece, as it arrives
    error = Signal(str)
    notice = Signal(str)  # about the user's own action: shown even while the engine starts

    def __init__(self, connection: BackendConnection, view: ChatView) -> None:
        super().__init__(view)
        self.connection = connection
        self.view = view
        self.conversation: dict[str, Any] | None = None
        self._stream: StreamOperation | None = None
        self._reply_view: MessageView | None = None
        self._reply_text: list[str] = []
        self._reply_done = False  # the backend sent the stored reply
        self._new_chat_collections: list[str] = []  # chosen before the chat exists
        # The partial reply a backend crash cut off; the backend never stored it.
        self._orphan: tuple[str, dict[str, Any]] | None = None
        # Bumped by each open and each new reply: a conversation fetched before either is stale.
        self._view_version = 0
        self._wanted_id: str | None = None  # the conversation the user opened last
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render_reply)
        view.composer.send_requested.connect(self.send)
        view.composer.stop_requested.connect(self.stop)
        view.settings_requested.connect(self.edit_settings)
        view.model_picker.model_chosen.connect(self.choose_model)
        view.collections_button.chosen.connect(self.choose_collections)
        view.composer.files_attached.connect(self.attach_files)
        view.composer.image_pasted.connect(self.attach_pasted)
        view.source_requested.connect(self.show_source)
        connection.connected.connect(self.reload)

    @property
    def generating(self) -> bool:
        return self._stream is not None

    # Opening -------------------------------------------------------------------------------

    def open(self, conversation_id: str | None) -> None:
        self._view_version += 1
        version = self._view_version
        self._wanted_id = conversation_id
        self.view.composer.discard_edit()  # an edit belongs to the chat it was started in
        if self.generating:
            # Leaving a chat mid-reply stops it; the backend keeps what was written so far.
            self.stop()
            self._reply_view = None
        if conversation_id is None:
            self.conversation = None
            self.view.show_conversation(None, [])
            self._new_chat_collections = []
            return
        self.connection.call(
            lambda api: api.get_conversation(conversation_id),
            lambda stored: self._show_stored(stored, version),
            self.error.emit,
        )

    def reload(self) -> None:
        """Show the open conversation as the backend holds it (the one last asked for, even
        while its fetch is still on the way)."""
        if self._wanted_id is not None and not self.generating:
            self.open(self._wanted_id)

    def show_renamed(self, conversation: dict[str, Any]) -> None:
        if self.conversation is not None and conversation["id"] == self.conversation["id"]:
            self.conversation["title"] = conversation["title"]
            self.view.title.setText(conversation["title"])

    def _show_stored(self, stored: dict[str, Any], version: int) -> None:
        if version != self._view_version:
            # E.g. the reload after a restart, answered once Retry had begun a new reply: that
            # reply's live view must stay.
            return
        self.conversation = stored["conversation"]
        messages = list(stored["messages"])
        if self._orphan and self._orphan[0] == self.conversation["id"]:
            if messages and messages[-1]["role"] == "user":
                messages.append(self._orphan[1])
            self._orphan = None
        self.view.show_conversation(self.conversation, messages)
        for view in self.view.views:
            self._connect_actions(view)
        self.conversation_changed.emit(self.conversation)

    def _connect_actions(self, view: MessageView) -> None:
        view.edit_requested.connect(self.view.composer.edit)
        view.regenerate_requested.connect(self.regenerate)
        view.retry_requested.connect(self.regenerate)

    # Sending -------------------------------------------------------------------------------

    def send(self, text: str, editing: dict[str, Any] | None = None) -> None:
        """Send the composer's text and images; they stay in the composer until a reply starts."""
        if self.generating:
            return
        if not self.connection.is_ready:
            self._keep_draft(text, editing, self._why_not_ready())
            return
        images = self.view.composer.tray.references()
        if self.conversation is None:
            model = self.view.model_picker.current_model()  # chosen before the chat existed
            collections = list(self._new_chat_collections)
            self.connection.call(
                lambda api: create_with_collections(api, title_from(text), model, collections),
                lambda created: self._send_in_new(created, text, images),
                lambda message: self._keep_draft(text, None, message),
            )
            return
        replace_from = editing.get("id") if editing else None
        if self._start_stream(text, replace_from, images):
            self.view.composer.tray.take()
        else:
            self._keep_draft(text, editing, NOT_RUNNING)

    def _send_in_new(self, conversation: dict[str, Any], text: str, images: list[str]) -> None:
        self._view_version += 1  # a fetch still on the way is for the chat left behind
        self._wanted_id = conversation["id"]
        self.conversation = conversation
        self.view.show_conversation(conversation, [])
        self.conversation_changed.emit(conversation)
        if self._start_stream(text, None, images):
            self.view.composer.tray.take()
        else:
            self._keep_draft(text, None, NOT_RUNNING)

    def _why_not_ready(self) -> str:
        if self.connection.state == BackendState.ERROR:
            return "The engine is not running: use Restart engine, bottom right. Message kept."
        return "The engine is still starting; send again in a moment."

    def _keep_draft(self, text: str, editing: dict[str, Any] | None, why: str) -> None:
        self.view.composer.restore(text, editing)
        self.notice.emit(why)

    def regenerate(self, reply: dict[str, Any]) -> None:
        """Resend the user message before `reply`, replacing it and everything after it."""
        if self.generating:
            return
        question = self.view.user_message_before(reply)
        if question is not None and question.get("id") is not None:
            # The stored copies of its images go again with it.
            images = [a["path"] for a in question.get("attachments") or []]
            if not self._start_stream(question["content"], question["id"], images):
                self.notice.emit(NOT_RUNNING)

    def _start_stream(self, text: str, replace_from: int | None, images: list[str]) -> bool:
        """Begin the reply; False when there is no engine to send it to."""
        assert self.conversation is not None
        conversation_id = self.conversation["id"]
        stream = self.connection.stream(
            lambda api: api.send_message(conversation_id, text, replace_from, images)
        )
        if stream is None:
            return False
        if replace_from is not None:
            self.view.remove_from_message(replace_from)
        self._maybe_retitle(text)
        self._stream = stream
        self._view_version += 1
        self._reply_view = None
        self._reply_text = []
        self._reply_done = False
        stream.signals.item.connect(self._on_event)
        self.view.set_generating(True)
        self.connection.set_busy(True)
        self.connection.runner.start(stream, self._on_stream_ended, self._on_stream_failed)
        return True

    def _maybe_retitle(self, text: str) -> None:
        """A chat still called "New chat" is named after its first question."""
        if self.conversation is None or self.conversation.get("title") != "New chat":
            return
        conversation_id, title = self.conversation["id"], title_from(text)
        self.conversation["title"] = title
        self.view.title.setText(title)
        self.connection.call(
            lambda api: api.update_conversation(conversation_id, title=title),
            self._on_conversation_updated,
        )

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()

    # Stream events -------------------------------------------------------------------------

    def _on_event(self, event: dict[str, Any]) -> None:
        if self._stream is None or self._stream.stopped:
            return  # events already queued when Stop was pressed are not shown
        handler = {
            "user": self._on_user,
            "token": self._on_token,
            "done": self._on_done,
            "error": self._on_error_event,
        }.get(event.get("type", ""))
        if handler is not None:
            handler(event)

    def _on_user(self, event: dict[str, Any]) -> None:
        self._connect_actions(self.view.add_message(event["message"]))
        placeholder = {"role": "assistant", "content": "", "status": "complete"}
        self._reply_view = self.view.add_message(placeholder, streaming=True)
        self._connect_actions(self._reply_view)

    def _on_token(self, event: dict[str, Any]) -> None:
        self._reply_text.append(event["text"])
        self.token_received.emit(event["text"])
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _render_reply(self) -> None:
        if self._reply_view is not None:
            self._reply_view.set_text("".join(self._reply_text))

    def _on_error_event(self, event: dict[str, Any]) -> None:
        self.error.emit(event.get("message", "The reply failed."))

    def _on_done(self, event: dict[str, Any]) -> None:
        message = event["message"]
        self._reply_done = True
        self._render_timer.stop()
        if self._reply_view is not None:
            self._reply_view.finish(message)
        self.view.stats.setText(format_stats(message.get("timings")))

    def _on_stream_ended(self, completed: bool) -> None:
        nothing_shown = self._reply_view is None
        if not completed or not self._reply_done:  # stopped, or the stream ended without "done"
            self._mark_reply_interrupted()
        self._end_stream()
        if nothing_shown:
            # Stopped before the first event arrived: the backend may still have stored the
            # question, so show what it holds.
            self.reload()

    def _on_stream_failed(self, message: str) -> None:
        self._mark_reply_interrupted()
        self.connection.check_now()  # a dead backend shows up here first
        if self.connection.is_ready:  # else the connection reports the crash itself
            self.error.emit(message)
        self._end_stream()

    def _mark_reply_interrupted(self) -> None:
        self._render_timer.stop()
        if self._reply_view is None:
            return
        self._reply_view.set_text("".join(self._reply_text))
        self._reply_view.set_status("interrupted")
        if self.conversation is not None:
            # If the backend never stored this reply (it crashed), the next reload shows this copy.
            partial = self._reply_view.message | {"status": "interrupted"}
            self._orphan = (self.conversation["id"], partial)

    def _end_stream(self) -> None:
        self._stream = None
        self._reply_view = None
        self.view.set_generating(False)
        self.view.refresh_actions()
        self.connection.set_busy(False)

    # Images --------------------------------------------------------------------------------

    def attach_files(self, paths: list[str]) -> None:
        for path in paths:
            chip = self.view.composer.tray.add(path, PurePath(path).name)
            self.view.thumbnails.show_in(chip.thumbnail, path)
            self._label(chip, path)

    def attach_pasted(self, image: QImage) -> None:
        size = self.view.thumbnails.size
        self.connection.runner.submit(
            lambda: pasted_image_reference(image, size), self._add_pasted, self.error.emit
        )

    def _add_pasted(self, encoded: tuple[str, QImage]) -> None:
        data_url, thumbnail = encoded
        chip = self.view.composer.tray.add(data_url, "pasted image")
        chip.set_image(thumbnail)
        self._label(chip, data_url)

    def _label(self, chip: ImageChip, reference: str) -> None:
        """CLIP's labels, shown before sending so the user knows what the model will be told."""

        def show(labels: list[dict[str, Any]]) -> None:
            if shiboken6.isValid(chip):
                chip.set_labels(labels)

        def explain(message: str) -> None:
            if shiboken6.isValid(chip):
                chip.labels.setText(f"Cannot label: {message}")

        self.connection.call(lambda api: api.label_image(reference), show, explain)

    # Documents -----------------------------------------------------------------------------

    def choose_collections(self, names: list[str]) -> None:
        if self.conversation is None:
            self._new_chat_collections = list(names)  # applied when the first message creates it
            return
        conversation_id = self.conversation["id"]
        self.connection.call(
            lambda api: api.update_conversation(conversation_id, collections=names),
            self._on_conversation_updated,
            self.error.emit,
        )

    def show_source(self, source: dict[str, Any]) -> SourcePreviewDialog:
        dialog = SourcePreviewDialog(source, self.view.dark, self.view)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    # Conversation settings -----------------------------------------------------------------

    def choose_model(self, model: str | None) -> None:
        if self.conversation is None:
            return  # the first message creates the chat with the picker's model
        conversation_id = self.conversation["id"]
        self.connection.call(
            lambda api: api.update_conversation(conversation_id, model=model),
            self._on_conversation_updated,
            self.error.emit,
        )

    def edit_settings(self) -> ConversationSettingsDialog | None:
        if self.conversation is None:
            self.error.emit("Send a first message to create the chat, then set its options.")
            return None
        dialog = ConversationSettingsDialog(self.conversation, self.view)
        conversation_id = self.conversation["id"]
        dialog.accepted.connect(lambda: self._save_settings(conversation_id, dialog.changes()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _save_settings(self, conversation_id: str, changes: dict[str, Any]) -> None:
        self.connection.call(
            lambda api: api.update_conversation(conversation_id, **changes),
            self._on_conversation_updated,
            self.error.emit,
        )

    def _on_conversation_updated(self, conversation: dict[str, Any]) -> None:
        # The user may have opened another chat since: only the open one is reflected.
        if self.conversation is not None and conversation["id"] == self.conversation["id"]:
            self.conversation = conversation
            self.conversation_changed.emit(conversation)
