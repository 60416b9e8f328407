"""Thumbnails decoded on worker threads and cached; the GUI thread only shows them."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QImage, QImageReader, QPixmap
from PySide6.QtWidgets import QLabel

from desktop.workers import TaskRunner

THUMBNAIL_SIZE = 96


def decode_thumbnail(path: str, size: int) -> QImage:
    """Decoded at reduced size where the format allows (JPEG), so a large photo stays cheap."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid() and max(full.width(), full.height()) > size:
        reader.setScaledSize(full.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        raise OSError(f"{path}: {reader.errorString()}")
    return image


class ThumbnailLoader(QObject):
    """One cache for the window; `show_in` fills a label once its thumbnail is decoded."""

    def __init__(self, runner: TaskRunner, size: int = THUMBNAIL_SIZE) -> None:
        super().__init__(runner)
        self._runner = runner
        self.size = size
        self._cache: dict[str, QPixmap] = {}

    def show_in(self, label: QLabel, path: str) -> None:
        cached = self._cache.get(path)
        if cached is not None:
            label.setPixmap(cached)
            return
        label.setText("…")
        size = self.size
        self._runner.submit(
            lambda: decode_thumbnail(path, size),
            lambda image: self._decoded(label, path, image),
            lambda _message: self._failed(label),
        )

    def _decoded(self, label: QLabel, path: str, image: QImage) -> None:
        pixmap = self._cache.setdefault(path, QPixmap.fromImage(image))
        if shiboken6.isValid(label):  # the message may have been closed meanwhile
            label.setPixmap(pixmap)

    def _failed(self, label: QLabel) -> None:
        if shiboken6.isValid(label):
            label.setText("(image not found)")
