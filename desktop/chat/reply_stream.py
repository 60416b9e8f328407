"""The reply streaming into the chat view: its tokens rendered as they come, Stop, and the
partial reply that a backend crash cut off before the backend could store it."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from backend.wire import (
    ChatEvent,
    DoneEvent,
    ErrorEvent,
    Message,
    QueuedEvent,
    Role,
    StageEvent,
    TokenEvent,
    UserEvent,
)
from desktop.backend_connection import BackendConnection
from desktop.chat.chat_view import ChatView
from desktop.chat.message_view import UNSAVED_ID, MessageView
from desktop.workers import StreamOperation

RENDER_INTERVAL_MS = 40  # re-render streamed Markdown at most 25 times a second


def waiting_note(ahead: int, replying_in: str | None = None) -> str:
    """What a reply that waits for the model shows in place of "Writing…": the chat whose
    reply it waits for, when that is the app's own other chat and the only one ahead."""
    if replying_in is not None and ahead == 1:
        return f"Waiting for the reply in '{replying_in}'…"
    return f"Waiting ({ahead} ahead)…"


def unsaved_reply(conversation_id: str, role: Role = "assistant", content: str = "") -> Message:
    """The reply while it streams, before the backend stores it and gives it an id (or the
    question while the documents are searched, before the backend stores it)."""
    return Message(
        id=UNSAVED_ID,
        conversation_id=conversation_id,
        role=role,
        content=content,
        created_at=time.time(),
    )


class ReplyStream(QObject):
    """One chat's reply at a time, from its request to its stored end or its interruption. It
    goes on while another chat is shown (`detach`), and shows itself again when its chat is
    opened (`attach`)."""

    token_received = Signal(str)  # each streamed piece, as it arrives
    error = Signal(str)
    # Stopped before its first event: the backend may still have stored the question.
    nothing_shown = Signal()
    stopped = Signal(str)  # the conversation whose reply Stop ended after it had begun
    ended = Signal(str)  # the conversation whose reply stream ended, however it ended

    def __init__(
        self, connection: BackendConnection, view: ChatView, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.connection = connection
        self.view = view
        self._stream: StreamOperation | None = None
        self._conversation_id = ""  # the chat the reply belongs to
        self._shown = False  # its chat is the one the view shows
        # The title of another chat whose reply is running, for the waiting note
        self.replying_elsewhere: Callable[[], str | None] = lambda: None
        self._reply_view: MessageView | None = None
        self._question_view: MessageView | None = None  # shown before it is stored (searching)
        self._question = ""
        self._question_stored = False  # the backend sent the stored question
        self._reply_text: list[str] = []
        self._reply_done = False  # the backend sent the stored reply
        # What the reply shows before its first token: its place in line, or its stage.
        self._note: str | None = None
        # The partial reply a backend crash cut off (conversation id, message); never stored.
        self._cut_off: tuple[str, Message] | None = None
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render_reply)

    @property
    def generating(self) -> bool:
        return self._stream is not None

    @property
    def shown(self) -> bool:
        return self._shown

    def start(
        self, conversation_id: str, text: str, replace_from: int | None, images: list[str]
    ) -> bool:
        """Ask for the reply to `text`; False when there is no engine to send it to."""
        stream = self.connection.stream(
            lambda api: api.conversations.send(conversation_id, text, replace_from, images)
        )
        if stream is None:
            return False
        if replace_from is not None:
            self.view.remove_from_message(replace_from)
        self._stream = stream
        self._conversation_id = conversation_id
        self._shown = True
        self._reply_view = self._question_view = None
        self._question, self._question_stored = text, False
        self._reply_text = []
        self._reply_done = False
        self._note = None
        stream.signals.item.connect(self._on_event)
        self.view.set_generating(True)
        self.view.show_stats(None)  # the last reply's figures are not this one's
        self.connection.set_busy(True)
        self.connection.runner.start(stream, self._on_stream_ended, self._on_stream_failed)
        return True

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()

    def detach(self) -> None:
        """Its chat is being left: the reply goes on, out of sight."""
        self._shown = False
        self._reply_view = self._question_view = None

    def attach(self) -> None:
        """Its chat is shown again, as stored: the stored reply so far (or a placeholder)
        becomes the live reply, with everything streamed so far."""
        self._shown = True
        if not self.generating:
            return
        self.view.set_generating(True)  # earlier messages wait; the reply's own views do not
        conversation_id, views = self._conversation_id, self.view.views
        last = views[-1] if views else None
        if last is not None and last.message.role == "assistant" and self._question_stored:
            self._reply_view = last
            last.set_changes_allowed(True)
            last.set_status("complete", streaming=True)
        else:  # its question is not stored yet (searching)
            if not self._question_stored:
                asked = unsaved_reply(conversation_id, "user", self._question)
                self._question_view = self.view.add_message(asked)
            self._reply_view = self.view.add_message(unsaved_reply(conversation_id), True)
        if self._note is not None:
            self._reply_view.note.setText(self._note)
        if self._reply_text:
            self._render_reply()

    def with_cut_off_reply(self, conversation_id: str, messages: list[Message]) -> list[Message]:
        """`messages` as the backend stored them, plus the reply a crash cut off, once."""
        if self._cut_off is not None and self._cut_off[0] == conversation_id:
            if messages and messages[-1].role == "user":
                messages = [*messages, self._cut_off[1]]
            self._cut_off = None
        return messages

    def _on_event(self, event: ChatEvent) -> None:
        if self._stream is None or self._stream.stopped:
            return  # events already queued when Stop was pressed are not shown
        match event:
            case QueuedEvent():
                self._show_note(waiting_note(event.ahead, self.replying_elsewhere()))
            case StageEvent():
                self._on_stage(event)
            case UserEvent():
                self._on_user(event)
            case TokenEvent():
                self._on_token(event)
            case DoneEvent():
                self._on_done(event)
            case ErrorEvent():
                self._on_error_event(event)

    def _on_stage(self, event: StageEvent) -> None:
        if (
            self._reply_view is None and self._shown
        ):  # searching: the question is stored once that is done
            asked = unsaved_reply(self._conversation_id, "user", self._question)
            self._question_view = self.view.add_message(asked)
            placeholder = unsaved_reply(self._conversation_id)
            self._reply_view = self.view.add_message(placeholder, streaming=True)
        self._show_note(event.label())

    def _show_note(self, note: str) -> None:
        self._note = note
        if self._reply_view is not None:
            self._reply_view.note.setText(note)

    def _on_user(self, event: UserEvent) -> None:
        self._question_stored = True
        if self._question_view is not None:  # shown while the documents were searched
            self._question_view.message = event.message
            return
        if not self._shown:
            return
        self.view.add_message(event.message)
        placeholder = unsaved_reply(event.message.conversation_id)
        self._reply_view = self.view.add_message(placeholder, streaming=True)
        if self._note is not None:
            self._reply_view.note.setText(self._note)

    def _on_token(self, event: TokenEvent) -> None:
        if self._note and self._reply_view is not None:  # writing now: "Writing…" again
            self._note = None
            self._reply_view.set_status("complete", streaming=True)
        self._reply_text.append(event.text)
        if self._shown:
            self.token_received.emit(event.text)
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _render_reply(self) -> None:
        if self._reply_view is not None:
            self._reply_view.set_text("".join(self._reply_text))

    def _on_error_event(self, event: ErrorEvent) -> None:
        self.error.emit(event.message or "The reply failed.")

    def _on_done(self, event: DoneEvent) -> None:
        message = event.message
        self._reply_done = True
        self._render_timer.stop()
        if self._reply_view is not None:
            self._reply_view.finish(message)
        if self._shown:
            self.view.show_stats(message.timings)

    def _on_stream_ended(self, completed: bool) -> None:
        # A question never stored (stopped, or its search failed) is not left on screen.
        nothing_shown = self._reply_view is None or not self._question_stored
        if not completed or not self._reply_done:  # stopped, or the stream ended without "done"
            self._mark_reply_interrupted()
        self._end_stream()
        if nothing_shown:
            if self._shown:
                self.nothing_shown.emit()
        elif not completed:
            self.stopped.emit(self._conversation_id)

    def _on_stream_failed(self, message: str) -> None:
        self._mark_reply_interrupted()
        self.connection.check_now()  # a dead backend shows up here first
        if self.connection.is_ready:  # else the connection reports the crash itself
            self.error.emit(message)
        self._end_stream()

    def _mark_reply_interrupted(self) -> None:
        self._render_timer.stop()
        if self._reply_view is None or not self._question_stored:
            return
        self._reply_view.set_text("".join(self._reply_text))
        self._reply_view.set_status("interrupted")
        # If the backend never stored this reply (it crashed), the next reload shows this copy.
        partial = self._reply_view.message.model_copy(update={"status": "interrupted"})
        self._cut_off = (self._conversation_id, partial)

    def _end_stream(self) -> None:
        self._stream = None
        self._reply_view = self._question_view = None
        if self._shown:
            self.view.set_generating(False)
            self.view.refresh_actions()
        self.ended.emit(self._conversation_id)
