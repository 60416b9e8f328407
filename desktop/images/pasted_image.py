"""A pasted image becomes a PNG data URL for the backend, and a thumbnail (run in a worker)."""

from __future__ import annotations

import base64

from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QImage


def pasted_image_reference(image: QImage, size: int) -> tuple[str, QImage]:
    """(data URL, thumbnail); encoding a screenshot-sized image takes tens of milliseconds."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stub says bytes; only str works
    data_url = "data:image/png;base64," + base64.b64encode(buffer.data().data()).decode()
    thumbnail = image.scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    return data_url, thumbnail
