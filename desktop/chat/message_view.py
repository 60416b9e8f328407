"""One message on screen: Markdown prose, highlighted code blocks with Copy, its images with
their labels, the sources of an answer from documents, and its actions."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from backend.llm.thoughts import without_thoughts
from backend.wire import Message, MessageStatus
from desktop.chat.code_highlight import code_background, highlighted_html
from desktop.chat.markdown_blocks import Block, split_blocks
from desktop.chat.thoughts_view import ThoughtsView
from desktop.chat.vision_caveat import VisionCaveat
from desktop.documents.source_preview import source_title
from desktop.images.image_chip import ImageChip
from desktop.images.thumbnails import ThumbnailLoader

UNSAVED_ID = 0  # a reply still streaming: stored messages are numbered from 1 (SQLite's rowid)
STATUS_NOTES = {
    "interrupted": "Stopped before the reply was finished.",
    "error": "The reply failed.",
}
REPEATING_NOTE = "Stopped: the reply was repeating itself."
SELECTABLE = (
    Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
)


def action_button(text: str, accessible: str, parent: QWidget) -> QToolButton:
    button = QToolButton(parent)
    button.setText(text)
    button.setAccessibleName(accessible)
    button.setToolTip(accessible)
    button.setAutoRaise(True)
    button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return button


class ProseView(QLabel):
    """Markdown through Qt's own renderer: headings, lists, emphasis, links. It wraps to the
    message's width and never widens it (a word longer than a line is cut at the edge)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.MarkdownText)
        self.setWordWrap(True)
        self.setTextInteractionFlags(SELECTABLE)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Message text")

    def show_block(self, block: Block, dark: bool) -> None:
        if self.text() != block.text:
            self.setText(block.text)


class SideScroller(QScrollArea):
    """Shows a block at its natural width inside the message, scrolling sideways when it is
    wider, instead of widening every message past the window's edge."""

    def __init__(self, content: QLabel, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAccessibleName(content.accessibleName())  # the scroll area takes Tab focus
        self._content = content
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        content.setAutoFillBackground(False)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        content = self._content.sizeHint()
        wider = content.width() > self.viewport().width()
        bar = self.horizontalScrollBar().sizeHint().height() if wider else 0
        return QSize(content.width(), content.height() + bar)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(0, self.sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self.updateGeometry()  # the sideways bar comes and goes with the width


class TableView(SideScroller):
    """A Markdown table, at its natural width."""

    def __init__(self, parent: QWidget) -> None:
        self._table = QLabel()
        self._table.setTextFormat(Qt.TextFormat.MarkdownText)
        self._table.setTextInteractionFlags(SELECTABLE)
        self._table.setAccessibleName("Table")
        super().__init__(self._table, parent)

    def show_block(self, block: Block, dark: bool) -> None:
        if self._table.text() != block.text:
            self._table.setText(block.text)
            self.updateGeometry()


class CodeBlockView(QFrame):
    """A fenced code block: its language, a Copy button, and the highlighted code."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self._code = ""
        self._shown: tuple[str, str, bool] | None = None
        self._language = QLabel(self)
        self._language.setObjectName("codeLanguage")
        self.copy_button = action_button("Copy code", "Copy this code block", self)
        self.copy_button.clicked.connect(self._copy_code)
        self._view = QLabel()
        self._view.setTextFormat(Qt.TextFormat.RichText)
        self._view.setTextInteractionFlags(SELECTABLE)
        self._view.setAccessibleName("Code")
        # Unwrapped, so indentation stays true; long lines scroll sideways.
        self._scroller = SideScroller(self._view, self)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self._language)
        header.addStretch(1)
        header.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 8)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self._scroller)

    def show_block(self, block: Block, dark: bool) -> None:
        if self._shown == (block.text, block.language, dark):
            return
        self._shown = (block.text, block.language, dark)
        self._code = block.text
        background = code_background(dark)
        self.setStyleSheet(
            f"QFrame#codeBlock {{ background: {background}; border-radius: 6px;"
            f" border: 1px solid {'#4e5058' if dark else '#d0d7de'}; }}"
            f"QLabel#codeLanguage {{ color: {'#a0a0a0' if dark else '#57606a'}; }}"
        )
        self._language.setText(block.language or "code")
        self._view.setText(highlighted_html(block.text, block.language, dark))
        self._scroller.updateGeometry()

    def code(self) -> str:
        return self._code

    def _copy_code(self) -> None:
        QGuiApplication.clipboard().setText(self._code)


BlockView = ProseView | TableView | CodeBlockView | ThoughtsView
BLOCK_VIEWS: dict[str, type[BlockView]] = {
    "prose": ProseView,
    "table": TableView,
    "code": CodeBlockView,
    "thoughts": ThoughtsView,
}


class MessageView(QFrame):
    """A user or assistant message; streaming replies call `set_text` as tokens arrive."""

    edit_requested = Signal(object)  # the wire Message
    regenerate_requested = Signal(object)
    retry_requested = Signal(object)
    source_requested = Signal(object)  # one of the message's sources
    vision_model_requested = Signal(str)  # from the caveat of a reply that saw only labels
    quick_actions_requested = Signal(object, str)  # the Actions button, the text to act on
    version_requested = Signal(object, int)  # the reply, which of its versions to show (1-based)

    def __init__(
        self,
        message: Message,
        dark: bool,
        thumbnails: ThumbnailLoader,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.message = message.model_copy()  # streaming changes its text and status
        self._dark = dark
        self._thumbnails = thumbnails
        self.image_chips: list[ImageChip] = []
        self.source_buttons: list[QToolButton] = []
        self._blocks: list[BlockView] = []
        is_user = message.role == "user"
        self.setObjectName("userMessage" if is_user else "assistantMessage")
        self.setAccessibleName("Your message" if is_user else "Hearth's reply")
        self._author = QLabel(self._author_text(), self)
        self._author.setObjectName("messageAuthor")
        self._body = QVBoxLayout()
        self._body.setSpacing(6)
        self._images = QHBoxLayout()
        self._sources = QVBoxLayout()
        self._sources.setSpacing(0)
        self._caveat_slot = QVBoxLayout()
        self.vision_caveat: VisionCaveat | None = None  # made for the first reply that needs one
        self._changes_allowed = True  # see set_changes_allowed
        self.note = QLabel(self)
        self.note.setObjectName("messageNote")
        self.note.setWordWrap(True)
        self.copy_button = action_button("Copy", "Copy message", self)
        self.edit_button = action_button("Edit", "Edit and resend this message", self)
        self.regenerate_button = action_button("Regenerate", "Regenerate this reply", self)
        self.retry_button = action_button("Retry", "Retry this reply", self)
        self.actions_button = action_button(
            "Actions", "Quick actions on this message or the selected text", self
        )
        self.actions_button.clicked.connect(
            lambda: self.quick_actions_requested.emit(self.actions_button, self.acted_on())
        )
        self.copy_button.clicked.connect(self._copy_text)
        self.previous_version = action_button("‹", "Show the previous version of this reply", self)
        self.next_version = action_button("›", "Show the next version of this reply", self)
        self.version_label = QLabel(self)
        self.version_label.setObjectName("messageNote")
        self.previous_version.clicked.connect(lambda: self._request_version(-1))
        self.next_version.clicked.connect(lambda: self._request_version(+1))
        self.edit_button.clicked.connect(lambda: self.edit_requested.emit(self.message))
        self.regenerate_button.clicked.connect(lambda: self.regenerate_requested.emit(self.message))
        self.retry_button.clicked.connect(lambda: self.retry_requested.emit(self.message))
        self._layout_parts()
        self.set_text(message.content)
        self.set_status(message.status)

    def _layout_parts(self) -> None:
        actions = QHBoxLayout()
        actions.setContentsMargins(0, 0, 0, 0)
        for part in (self.previous_version, self.version_label, self.next_version):
            actions.addWidget(part)
        actions.addWidget(self.note, 1)
        for button in (
            self.retry_button,
            self.regenerate_button,
            self.edit_button,
            self.actions_button,
            self.copy_button,
        ):
            actions.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 6)
        layout.setSpacing(4)
        layout.addWidget(self._author)
        layout.addLayout(self._images)
        layout.addLayout(self._body)
        layout.addLayout(self._sources)
        layout.addLayout(self._caveat_slot)
        layout.addLayout(actions)
        self._show_attachments()

    def _author_text(self) -> str:
        if self.message.role == "user":
            return "You"
        model = self.message.model
        return f"Hearth · {model}" if model else "Hearth"

    @property
    def text(self) -> str:
        return self.message.content

    def code_blocks(self) -> list[CodeBlockView]:
        return [b for b in self._blocks if isinstance(b, CodeBlockView)]

    def set_text(self, text: str) -> None:
        """Re-split the Markdown and update the block widgets in place, so streaming is smooth."""
        self.message.content = text
        blocks = split_blocks(text)
        for index, block in enumerate(blocks):
            view_type = BLOCK_VIEWS[block.kind]
            if index < len(self._blocks) and type(self._blocks[index]) is view_type:
                view = self._blocks[index]
            else:
                view = view_type(self)
                self._replace_block(index, view)
            view.show_block(block, self._dark)
        for stale in self._blocks[len(blocks) :]:
            stale.deleteLater()
        del self._blocks[len(blocks) :]

    def _replace_block(self, index: int, view: BlockView) -> None:
        if index < len(self._blocks):
            self._blocks[index].deleteLater()
            self._body.removeWidget(self._blocks[index])
            self._blocks[index] = view
        else:
            self._blocks.append(view)
        self._body.insertWidget(index, view)

    def set_status(self, status: MessageStatus, streaming: bool = False) -> None:
        """Which actions show depends on the role, how the message ended and whether it streams."""
        self.message.status = status
        is_user = self.message.role == "user"
        note = REPEATING_NOTE if self.stopped_repeating else STATUS_NOTES.get(status, "")
        self.note.setText("Writing…" if streaming else note)
        finished = status == "complete" and not self.stopped_repeating
        self.copy_button.setVisible(not streaming)
        self._show_version_switch(streaming)
        self.actions_button.setVisible(not streaming)
        self.edit_button.setVisible(is_user and not streaming)
        self.retry_button.setVisible(not is_user and not streaming and not finished)
        self.regenerate_button.setVisible(not is_user and not streaming and finished)

    @property
    def stopped_repeating(self) -> bool:
        """The loop detector ended this reply: it is kept, but worth another try."""
        timings = self.message.timings
        return timings is not None and timings.finish_reason == "repetition"

    def finish(self, message: Message) -> None:
        """The stored message replaces the streamed one (same text, now with id, timings and
        the sources it was answered from)."""
        self.message = message.model_copy()
        self._author.setText(self._author_text())
        self.set_text(message.content)
        self.set_status(message.status)
        self._show_attachments()

    def _show_attachments(self) -> None:
        if not self.image_chips:
            for attachment in self.message.attachments:
                chip = ImageChip(attachment.name, removable=False, parent=self)
                chip.set_labels(attachment.labels)
                chip.set_read_text(attachment.text)
                chip.read_text.quick_actions_requested.connect(self.quick_actions_requested)
                chip.show_thumbnail(self._thumbnails, attachment.path)
                self._images.addWidget(chip)
                self.image_chips.append(chip)
            if self.image_chips:
                self._images.addStretch(1)
        if not self.source_buttons and self.message.sources:
            heading = QLabel("Sources", self)
            heading.setObjectName("messageNote")
            self._sources.addWidget(heading)
            for source in self.message.sources:
                button = action_button(source_title(source), "Show this source", self)
                button.setObjectName("sourceLink")
                button.setToolTip(source.path)
                button.clicked.connect(lambda _=False, s=source: self.source_requested.emit(s))
                self._sources.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
                self.source_buttons.append(button)

    def show_vision_caveat(self, text: str | None, vision_model: str | None) -> None:
        """Under a reply whose model saw only an image's labels, `text` says so; `vision_model`
        is one that sees, offered in its place. None for `text` hides the caveat."""
        if text is None:
            if self.vision_caveat is not None:
                self.vision_caveat.hide()
            return
        if self.vision_caveat is None:
            self.vision_caveat = VisionCaveat(self)
            self.vision_caveat.use_requested.connect(self.vision_model_requested)
            self._caveat_slot.addWidget(self.vision_caveat)
        self.vision_caveat.show_caveat(text, vision_model)
        self.vision_caveat.show()

    def set_dark(self, dark: bool) -> None:
        self._dark = dark
        self.set_text(self.text)

    def set_regenerate_allowed(self, allowed: bool) -> None:
        complete = self.message.status == "complete" and not self.stopped_repeating
        if self.message.role == "assistant" and complete:
            self.regenerate_button.setVisible(allowed)

    def version_number(self) -> tuple[int, int]:
        """Which version shows, of how many, as `< 2/3 >` counts (oldest first)."""
        versions = self.message.all_versions()
        created = self.message.created_at
        return next(i for i, v in enumerate(versions, 1) if v.created_at == created), len(versions)

    def _show_version_switch(self, streaming: bool) -> None:
        shown, count = self.version_number()
        switchable = count > 1 and not streaming
        for part in (self.previous_version, self.version_label, self.next_version):
            part.setVisible(switchable)
        self.version_label.setText(f"{shown}/{count}")
        self._enable_version_buttons()

    def set_changes_allowed(self, allowed: bool) -> None:
        """While a reply runs, earlier messages stay readable (text, sources, Copy), but nothing
        that would change the chat under it works: edit, regenerate, retry, versions, actions."""
        self._changes_allowed = allowed
        for button in (
            self.edit_button,
            self.regenerate_button,
            self.retry_button,
            self.actions_button,
        ):
            button.setEnabled(allowed)
        self._enable_version_buttons()

    def _enable_version_buttons(self) -> None:
        shown, count = self.version_number()
        self.previous_version.setEnabled(self._changes_allowed and shown > 1)
        self.next_version.setEnabled(self._changes_allowed and shown < count)

    def _request_version(self, step: int) -> None:
        shown, count = self.version_number()
        if 1 <= shown + step <= count:
            self.version_requested.emit(self.message, shown + step)

    def acted_on(self) -> str:
        """What a quick action works on: the selected text, else the message without the
        model's thoughts."""
        for block in self._blocks:
            if isinstance(block, ProseView) and block.hasSelectedText():
                return block.selectedText()
        return without_thoughts(self.text)

    def _copy_text(self) -> None:
        QGuiApplication.clipboard().setText(self.text)
