"""Images waiting to go with the next message, shown above the prompt with their labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from PySide6.QtWidgets import QHBoxLayout, QWidget

from desktop.images.image_chip import ImageChip

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


def is_image_path(path: str) -> bool:
    """By name only: the backend decodes the file and explains a bad one."""
    return PurePath(path).suffix.lower() in IMAGE_SUFFIXES


@dataclass
class PendingImage:
    reference: str  # a file path or a data URL, as the backend's `images` field takes them
    chip: ImageChip


class AttachmentTray(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pending: list[PendingImage] = []
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 4)
        self._layout.addStretch(1)
        self.setVisible(False)

    def add(self, reference: str, name: str) -> ImageChip:
        chip = ImageChip(name, removable=True, parent=self)
        pending = PendingImage(reference, chip)
        chip.remove_requested.connect(lambda: self.remove(pending))
        self.pending.append(pending)
        self._layout.insertWidget(self._layout.count() - 1, chip)
        self.setVisible(True)
        return chip

    def remove(self, pending: PendingImage) -> None:
        self.pending.remove(pending)
        pending.chip.deleteLater()
        self.setVisible(bool(self.pending))

    def references(self) -> list[str]:
        return [p.reference for p in self.pending]

    def clear(self) -> None:
        for pending in list(self.pending):
            self.remove(pending)
