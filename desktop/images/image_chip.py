"""One image on screen as a thumbnail with its name and CLIP's labels (composer and messages),
and under it the text read in the image, folded away, with Copy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.images.thumbnails import THUMBNAIL_SIZE, ThumbnailLoader

if TYPE_CHECKING:
    from backend.wire import ImageLabel

SHOWN_LABELS = 3
READ_TEXT_HEIGHT = 140  # pixels; longer text scrolls


def labels_text(labels: list[ImageLabel]) -> str:
    """One guess a line, like "cat 62%": what the classifier sees, with its confidence."""
    return "\n".join(f"{item.label} {item.score:.0%}" for item in labels[:SHOWN_LABELS])


def read_text_heading(text: str) -> str:
    lines = len(text.splitlines())
    return f"Text read from the image ({lines} line{'s' if lines != 1 else ''})"


class ReadText(QWidget):
    """The text read in an image: a heading that folds it open, the text, Copy, and Actions
    (the quick actions, on this text)."""

    quick_actions_requested = Signal(object, str)  # the Actions button, the text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton(self)
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAccessibleName("Show the text read from the image")
        self.toggle.toggled.connect(self.set_open)
        self.copy_button = QToolButton(self)
        self.copy_button.setText("Copy")
        self.copy_button.setAutoRaise(True)
        self.copy_button.setAccessibleName("Copy the text read from the image")
        self.copy_button.clicked.connect(self.copy)
        self.actions_button = QToolButton(self)
        self.actions_button.setText("Actions")
        self.actions_button.setAutoRaise(True)
        self.actions_button.setAccessibleName("Quick actions on the text read from the image")
        self.actions_button.clicked.connect(self._ask_for_actions)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Text read from the image")
        self.text.setVisible(False)
        heading = QHBoxLayout()
        heading.setContentsMargins(0, 0, 0, 0)
        heading.addWidget(self.toggle, 1)
        heading.addWidget(self.actions_button)
        heading.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(heading)
        layout.addWidget(self.text)

    def show_text(self, text: str) -> None:
        self.toggle.setText(read_text_heading(text))
        self.text.setPlainText(text)
        # As tall as the lines (and a wrapped one), up to READ_TEXT_HEIGHT; longer text scrolls.
        rows = text.count("\n") + 3
        height = self.text.fontMetrics().lineSpacing() * rows + 2 * self.text.frameWidth() + 8
        self.text.setFixedHeight(min(READ_TEXT_HEIGHT, height))

    def set_open(self, opened: bool) -> None:
        self.toggle.setChecked(opened)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if opened else Qt.ArrowType.RightArrow)
        self.text.setVisible(opened)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())

    def _ask_for_actions(self) -> None:
        self.quick_actions_requested.emit(self.actions_button, self.text.toPlainText())


class ImageChip(QFrame):
    remove_requested = Signal()

    def __init__(self, name: str, removable: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageChip")
        self.thumbnail = QLabel(self)
        self.thumbnail.setFixedSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setAccessibleName(f"Thumbnail of {name}")
        self.name = QLabel(name, self)
        self.name.setObjectName("messageAuthor")
        self.labels = QLabel("Labelling…", self)
        self.labels.setObjectName("fieldDescription")
        self.labels.setWordWrap(True)
        self.labels.setAccessibleName("What the image classifier sees")
        self.read_text = ReadText(self)
        self.read_text.setVisible(False)  # until text is read in the image
        text = QVBoxLayout()
        text.addWidget(self.name)
        text.addWidget(self.labels)
        text.addStretch(1)
        layout = QHBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.thumbnail)
        layout.addLayout(text, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addLayout(layout)
        outer.addWidget(self.read_text)
        # Quick actions are for text already sent; an image still in the tray has none yet.
        self.read_text.actions_button.setVisible(not removable)
        if removable:
            remove = QToolButton(self)
            remove.setText("✕")
            remove.setAccessibleName(f"Remove {name}")
            remove.setToolTip("Don't send this image")
            remove.setAutoRaise(True)
            remove.clicked.connect(self.remove_requested)
            layout.addWidget(remove, 0, Qt.AlignmentFlag.AlignTop)
        self.setMaximumWidth(360)

    def set_labels(self, labels: list[ImageLabel]) -> None:
        self.labels.setText(labels_text(labels) or "no labels")
        self.labels.setToolTip("Guessed by the image classifier (CLIP), not seen by the model")

    def set_read_text(self, text: str) -> None:
        """The text read in the image, folded under the thumbnail; none hides the section."""
        self.read_text.show_text(text)
        self.read_text.setVisible(bool(text))

    def show_labelling_failed(self, why: str) -> None:
        self.labels.setText(f"Cannot label: {why}")

    def set_image(self, image: QImage) -> None:
        self.thumbnail.setPixmap(QPixmap.fromImage(image))

    def show_thumbnail(self, thumbnails: ThumbnailLoader, path: str) -> None:
        """The image file's thumbnail, once a worker has decoded it."""
        thumbnails.show_in(self.thumbnail, path)
