"""One image on screen as a thumbnail with its name and CLIP's labels (composer and messages)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from desktop.images.thumbnails import THUMBNAIL_SIZE, ThumbnailLoader

if TYPE_CHECKING:
    from backend.wire import ImageLabel

SHOWN_LABELS = 3


def labels_text(labels: list[ImageLabel]) -> str:
    """One guess a line, like "cat 62%": what the classifier sees, with its confidence."""
    return "\n".join(f"{item.label} {item.score:.0%}" for item in labels[:SHOWN_LABELS])


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
        text = QVBoxLayout()
        text.addWidget(self.name)
        text.addWidget(self.labels)
        text.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.thumbnail)
        layout.addLayout(text, 1)
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

    def show_labelling_failed(self, why: str) -> None:
        self.labels.setText(f"Cannot label: {why}")

    def set_image(self, image: QImage) -> None:
        self.thumbnail.setPixmap(QPixmap.fromImage(image))

    def show_thumbnail(self, thumbnails: ThumbnailLoader, path: str) -> None:
        """The image file's thumbnail, once a worker has decoded it."""
        thumbnails.show_in(self.thumbnail, path)
