"""Where the user writes: Enter sends, Shift+Enter breaks the line, Stop ends a reply, and
images (attached, pasted or dropped) wait in a tray for the next message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QDir, QMimeData, Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.chat.attachment_tray import AttachmentTray, is_image_path
from desktop.images.image_chip import ImageChip

if TYPE_CHECKING:
    from backend.wire import Message

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.gif *.bmp *.webp *.tif *.tiff)"


def image_files_in(mime: QMimeData) -> list[str]:
    urls = mime.urls() if mime.hasUrls() else []
    return [u.toLocalFile() for u in urls if u.isLocalFile() and is_image_path(u.toLocalFile())]


class PromptEdit(QPlainTextEdit):
    """A multi-line editor whose plain Enter submits instead of inserting a newline, and whose
    paste of an image (or an image file) attaches it instead of inserting text."""

    submitted = Signal()
    files_pasted = Signal(list)
    image_pasted = Signal(QImage)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:  # noqa: N802 (Qt's name)
        return source.hasImage() or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802 (Qt's name)
        files = image_files_in(source)
        if files:
            self.files_pasted.emit(files)
        elif source.hasImage():
            self.image_pasted.emit(QImage(source.imageData()))
        else:
            super().insertFromMimeData(source)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        is_enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if is_enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class Composer(QWidget):
    """The prompt box, Send and Stop, and the note shown while an earlier message is edited."""

    send_requested = Signal(str, object)  # text, the message being edited (or None)
    stop_requested = Signal()
    files_attached = Signal(list)  # image paths: chosen, pasted or dropped
    image_pasted = Signal(QImage)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._editing: Message | None = None
        self.prompt = PromptEdit(self)
        self.prompt.setPlaceholderText("Ask anything — Enter sends, Shift+Enter for a new line")
        self.prompt.setAccessibleName("Message")
        self.prompt.setTabChangesFocus(True)
        self.prompt.setFixedHeight(76)
        self.prompt.submitted.connect(self._submit)
        self.prompt.files_pasted.connect(self.files_attached)
        self.prompt.image_pasted.connect(self.image_pasted)
        self.tray = AttachmentTray(self)
        self.attach_button = QPushButton("Image…", self)
        self.attach_button.setAccessibleName("Attach an image")
        self.attach_button.setToolTip("Attach an image to the next message (or paste or drop one)")
        self.attach_button.clicked.connect(self.choose_images)
        self.send_button = QPushButton("Send", self)
        self.send_button.setAccessibleName("Send message")
        self.send_button.clicked.connect(self._submit)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setAccessibleName("Stop generating")
        self.stop_button.setToolTip("Stop generating (Esc)")
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.setVisible(False)
        self.editing_note = QLabel(self)
        self.editing_note.setObjectName("editingNote")
        self.editing_note.setVisible(False)
        self.cancel_edit_button = QPushButton("Cancel edit", self)
        self.cancel_edit_button.setAccessibleName("Cancel editing")
        self.cancel_edit_button.clicked.connect(self.cancel_edit)
        self.cancel_edit_button.setVisible(False)
        self._layout_parts()

    def _layout_parts(self) -> None:
        note_row = QHBoxLayout()
        note_row.addWidget(self.editing_note, 1)
        note_row.addWidget(self.cancel_edit_button)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.attach_button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.prompt, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 4, 12, 10)
        layout.addLayout(note_row)
        layout.addWidget(self.tray)
        layout.addLayout(row)

    def set_generating(self, generating: bool) -> None:
        self.send_button.setVisible(not generating)
        self.stop_button.setVisible(generating)
        self.prompt.setReadOnly(generating)
        self.attach_button.setEnabled(not generating)

    def add_attachment(self, reference: str, name: str) -> ImageChip:
        """An image (file path or data URL) to go with the next message, shown in the tray."""
        return self.tray.add(reference, name)

    def attachments(self) -> list[str]:
        return self.tray.references()

    def clear_attachments(self) -> None:
        self.tray.clear()

    def choose_images(self) -> None:
        dialog = QFileDialog(self, "Attach images", QDir.homePath(), IMAGE_FILTER)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.filesSelected.connect(lambda files: self.files_attached.emit(list(files)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def edit(self, message: Message) -> None:
        """Load an earlier user message; sending replaces it and everything after it."""
        self._editing = message
        self.prompt.setPlainText(message.content)
        self.editing_note.setText(
            "Editing an earlier message: sending replaces it and the replies after it."
        )
        self.editing_note.setVisible(True)
        self.cancel_edit_button.setVisible(True)
        self.prompt.moveCursor(QTextCursor.MoveOperation.End)
        self.prompt.setFocus()

    def cancel_edit(self) -> None:
        self._editing = None
        self.editing_note.setVisible(False)
        self.cancel_edit_button.setVisible(False)

    def discard_edit(self) -> None:
        """Drop an edit in progress, and the earlier message's text it loaded."""
        if self._editing is not None:
            self.prompt.clear()
            self.cancel_edit()

    def restore(self, text: str, editing: Message | None) -> None:
        """Put back a message that could not be sent, unless something new was typed since."""
        if self.prompt.toPlainText().strip():
            return
        if editing is not None:
            self.edit(editing)
        self.prompt.setPlainText(text)
        self.prompt.moveCursor(QTextCursor.MoveOperation.End)

    def _submit(self) -> None:
        text = self.prompt.toPlainText().strip()
        if not text or self.prompt.isReadOnly():
            return
        editing = self._editing
        self.prompt.clear()
        self.cancel_edit()
        self.send_requested.emit(text, editing)
