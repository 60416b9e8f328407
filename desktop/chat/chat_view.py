"""The chat area on screen: header (title, model, settings), the message list, stats, composer,
and the dialogs opened from it (a cited source, the chat's settings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.collections_button import CollectionsButton
from desktop.chat.composer import Composer, image_files_in
from desktop.chat.conversation_settings import ConversationSettingsDialog
from desktop.chat.message_view import UNSAVED_ID, MessageView
from desktop.chat.model_picker import ModelPicker
from desktop.chat.vision_caveat import caveat_text
from desktop.documents.source_preview import SourcePreviewDialog
from desktop.images.thumbnails import ThumbnailLoader

if TYPE_CHECKING:
    from backend.quick_actions import QuickAction
    from backend.wire import (
        CollectionInfo,
        Conversation,
        GenerationReport,
        Message,
        ModelDescription,
        Source,
    )
    from desktop.documents.source_preview import ContextLoader


def format_stats(timings: GenerationReport | None) -> str:
    """Like "42 tokens/s · context 130 of 4,096 tokens", from a done message's timings."""
    if timings is None:
        return ""
    parts = []
    if timings.generation_per_second:
        parts.append(f"{timings.generation_per_second:,.0f} tokens/s")
    used = timings.prompt_tokens + timings.completion_tokens
    if timings.context_size:
        parts.append(f"context {used:,} of {timings.context_size:,} tokens")
    if timings.dropped_messages:
        parts.append(f"{timings.dropped_messages} older messages left out to fit")
    return " · ".join(parts)


# A readable measure: about 90 characters a line; wider windows centre the column.
MAX_TEXT_WIDTH = 760
SIDE_MARGIN = 16


class MessageList(QWidget):
    """The column of MessageViews inside the scroll area, at most MAX_TEXT_WIDTH wide."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.views: list[MessageView] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(SIDE_MARGIN, 12, SIDE_MARGIN, 12)
        self._layout.setSpacing(10)
        self._layout.addStretch(1)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        side = max(SIDE_MARGIN, (event.size().width() - MAX_TEXT_WIDTH) // 2)
        self._layout.setContentsMargins(side, 12, side, 12)
        super().resizeEvent(event)

    def append(self, view: MessageView) -> None:
        self.views.append(view)
        self._layout.insertWidget(self._layout.count() - 1, view)

    def remove_from(self, index: int) -> None:
        for view in self.views[index:]:
            self._layout.removeWidget(view)
            view.hide()  # gone at once, not only when the deferred delete runs
            view.deleteLater()
        del self.views[index:]


class ElidedLabel(QLabel):
    """One line that ends in "…" when its room is too narrow; `text()` stays whole, and the
    tooltip shows it."""

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        room = self.contentsRect()
        shown = self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, room.width()
        )
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(room, int(self.alignment()), shown)


class ChatView(QWidget):
    """Shows one conversation. It holds no backend logic: ChatSession drives it, and hears the
    user's intents through its signals. Image files dropped anywhere on it go with the next
    message."""

    send_requested = Signal(str, object)  # text, the message being edited (or None)
    stop_requested = Signal()
    regenerate_requested = Signal(object)  # the reply to answer again (Regenerate or Retry)
    model_chosen = Signal(object)  # a model name, or None for the default
    collections_chosen = Signal(list)  # the collection names the chat answers from
    settings_requested = Signal()
    settings_chosen = Signal(str, object)  # conversation id, the changed fields
    quick_action_chosen = Signal(object, str)  # the QuickAction, the text it acts on
    version_requested = Signal(object, int)  # a reply, which of its versions to show
    document_actions_requested = Signal(object, object)  # a Source, the button that asked

    def __init__(
        self, thumbnails: ThumbnailLoader, dark: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.dark = dark
        self.thumbnails = thumbnails
        self.quick_actions: list[QuickAction] = []  # loaded by the window
        self.load_source_context: ContextLoader | None = None  # set by the window
        self.setAcceptDrops(True)
        self.title = ElidedLabel("New chat", self)
        self.title.setObjectName("chatTitle")
        # A long title is cut off rather than forcing the whole window wider.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setMinimumWidth(64)  # but never cut to nothing in a narrow window
        self.model_picker = ModelPicker(self)
        self.collections_button = CollectionsButton(self)
        self.collections_button.chosen.connect(
            lambda names: self.model_picker.show_default_for(bool(names))
        )
        self.settings_button = QPushButton("Chat settings…", self)
        self.settings_button.setAccessibleName("Chat settings: system prompt and sampling")
        self.settings_button.clicked.connect(self.settings_requested)
        self.messages = MessageList()
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(self.messages)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setAccessibleName("Conversation")
        self.stats = QLabel(self)
        self.stats.setObjectName("chatStats")
        self.stats.setAccessibleName("Speed and context use")
        self.composer = Composer(self)
        self.composer.send_requested.connect(self.send_requested)
        self.composer.stop_requested.connect(self.stop_requested)
        self.model_picker.model_chosen.connect(self.model_chosen)
        self.collections_button.chosen.connect(self.collections_chosen)
        self._vision_models: list[str] = []  # installed models that see images
        self._stick_to_bottom = True
        self.scroll_area.verticalScrollBar().rangeChanged.connect(self._follow_new_content)
        self.scroll_area.verticalScrollBar().valueChanged.connect(self._remember_position)
        self._layout_parts()

    def _layout_parts(self) -> None:
        header = QHBoxLayout()
        header.setContentsMargins(16, 10, 12, 6)
        header.addWidget(self.title, 1)
        header.addWidget(self.collections_button)
        header.addWidget(self.model_picker)
        header.addWidget(self.settings_button)
        stats_row = QHBoxLayout()
        stats_row.setContentsMargins(16, 0, 16, 0)
        stats_row.addStretch(1)
        stats_row.addWidget(self.stats)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.scroll_area, 1)
        layout.addLayout(stats_row)
        layout.addWidget(self.composer)

    @property
    def views(self) -> list[MessageView]:
        return self.messages.views

    def set_collections(self, collections: list[CollectionInfo]) -> None:
        self.collections_button.set_collections(collections)
        self.model_picker.show_default_for(bool(self.collections_button.selected))

    def set_models(
        self, models: list[ModelDescription], default_name: str, documents_name: str
    ) -> None:
        """The installed models: the picker lists them, and the image caveats offer one that
        sees."""
        self.model_picker.set_models(models, default_name, documents_name)
        self._vision_models = [model.name for model in models if model.vision]
        self.show_vision_caveats()

    def use_model(self, name: str) -> None:
        """Switch the chat to `name`, as choosing it in the picker does."""
        self.model_picker.select(name)
        self.model_chosen.emit(name)

    def show_title(self, title: str) -> None:
        self.title.setText(title)

    def show_stats(self, timings: GenerationReport | None) -> None:
        self.stats.setText(format_stats(timings))

    def chosen_model(self) -> str | None:
        return self.model_picker.current_model()

    def discard_edit(self) -> None:
        self.composer.discard_edit()

    def restore_draft(self, text: str, editing: Message | None) -> None:
        """A message that could not be sent goes back into the composer."""
        self.composer.restore(text, editing)

    def show_conversation(self, conversation: Conversation | None, messages: list[Message]) -> None:
        self.show_title(conversation.title if conversation else "New chat")
        self.model_picker.select(conversation.model if conversation else None)
        self.collections_button.select(conversation.collections if conversation else [])
        self.model_picker.show_default_for(bool(self.collections_button.selected))
        self.messages.remove_from(0)
        for message in messages:
            self.add_message(message)
        # The last reply's own figures: a stopped one may have none, and an older reply's would
        # read as its.
        last_reply = next((m for m in reversed(messages) if m.role == "assistant"), None)
        self.show_stats(last_reply.timings if last_reply else None)
        self._stick_to_bottom = True
        self.refresh_actions()

    def add_message(self, message: Message, streaming: bool = False) -> MessageView:
        view = MessageView(message, self.dark, self.thumbnails, self.messages)
        view.source_requested.connect(self.show_source)
        view.edit_requested.connect(self.composer.edit)
        view.regenerate_requested.connect(self.regenerate_requested)
        view.retry_requested.connect(self.regenerate_requested)
        view.vision_model_requested.connect(self.use_model)
        view.quick_actions_requested.connect(self.show_quick_actions)
        view.version_requested.connect(self.version_requested)
        if streaming:
            view.set_status("complete", streaming=True)
        self.messages.append(view)
        return view

    def remove_from_message(self, message_id: int) -> None:
        """Drop the message with this id and everything after it (edit or regenerate)."""
        for index, view in enumerate(self.views):
            if view.message.id == message_id:
                self.messages.remove_from(index)
                return

    def refresh_actions(self) -> None:
        """Only the last reply offers Regenerate: regenerating an older one would drop the rest.
        A reply that has ended learns here whether it needs an image caveat."""
        for view in self.views:
            view.set_regenerate_allowed(view is self.views[-1])
        self.show_vision_caveats()

    def show_vision_caveats(self) -> None:
        """Each stored reply to a message with images, written by a model not known to see,
        says that the model read only the images' labels."""
        offer = self._vision_models[0] if self._vision_models else None
        question: Message | None = None
        for view in self.views:
            message = view.message
            if message.role == "user":
                question = message
                continue
            blind = message.id != UNSAVED_ID and message.model not in self._vision_models
            if question is not None and question.attachments and blind:
                view.show_vision_caveat(caveat_text(question.attachments), offer)
            else:
                view.show_vision_caveat(None, None)

    def user_message_before(self, view_message: Message) -> Message | None:
        previous = None
        for view in self.views:
            if view.message is view_message or view.message.id == view_message.id != UNSAVED_ID:
                return previous
            if view.message.role == "user":
                previous = view.message
        return previous

    def show_quick_actions(self, button: QWidget, text: str) -> QMenu:
        """The quick actions, under the button that asked; the one chosen acts on `text`. The
        menu belongs to the button, so it works over a dialog too, which it then closes."""
        menu = QMenu(button)
        window = button.window()
        if isinstance(window, QDialog):
            menu.triggered.connect(window.accept)
        for action in self.quick_actions:
            item = menu.addAction(action.label)
            item.triggered.connect(lambda _=False, a=action: self.quick_action_chosen.emit(a, text))
        menu.popup(button.mapToGlobal(button.rect().bottomLeft()))
        return menu

    def show_source(self, source: Source) -> SourcePreviewDialog:
        """The cited passage, highlighted, with a button to open its file."""
        dialog = SourcePreviewDialog(
            source,
            self.dark,
            self,
            self.load_source_context,
            lambda button: self.document_actions_requested.emit(source, button),
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def edit_settings(self, conversation: Conversation) -> ConversationSettingsDialog:
        """The chat's system prompt and sampling; accepting emits `settings_chosen`."""
        dialog = ConversationSettingsDialog(conversation, self)
        conversation_id = conversation.id
        dialog.accepted.connect(
            lambda: self.settings_chosen.emit(conversation_id, dialog.changes())
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def set_dark(self, dark: bool) -> None:
        self.dark = dark
        for view in self.views:
            view.set_dark(dark)

    def set_generating(self, generating: bool) -> None:
        self.composer.set_generating(generating)
        self.model_picker.setEnabled(not generating)
        self.collections_button.setEnabled(not generating)
        self.settings_button.setEnabled(not generating)
        for view in self.views:  # the question and reply added for this turn come after
            view.set_changes_allowed(not generating)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if image_files_in(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt's name)
        files = image_files_in(event.mimeData())
        if files:
            event.acceptProposedAction()
            self.composer.files_attached.emit(files)

    def _remember_position(self, value: int) -> None:
        bar = self.scroll_area.verticalScrollBar()
        self._stick_to_bottom = value >= bar.maximum() - 24

    def _follow_new_content(self, _low: int, high: int) -> None:
        # Follow a streaming reply only while the user has not scrolled up to read.
        if self._stick_to_bottom:
            self.scroll_area.verticalScrollBar().setValue(high)
