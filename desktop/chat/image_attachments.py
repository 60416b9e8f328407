"""Images waiting to go with the next message: files chosen, dropped or pasted, each shown in
the composer with its thumbnail, the labels CLIP gives it and the text read in it, before
anything is sent."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from desktop.backend_connection import BackendConnection
from desktop.chat.composer import Composer
from desktop.images.image_chip import ImageChip
from desktop.images.pasted_image import pasted_image_reference
from desktop.images.thumbnails import ThumbnailLoader

if TYPE_CHECKING:
    from backend.wire import ImageReading


class ImageAttachments(QObject):
    """Fills the composer's tray; the session sends what is pending, then clears it."""

    error = Signal(str)

    def __init__(
        self,
        connection: BackendConnection,
        composer: Composer,
        thumbnails: ThumbnailLoader,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.connection = connection
        self.composer = composer
        self.thumbnails = thumbnails
        composer.files_attached.connect(self.attach_files)
        composer.image_pasted.connect(self.attach_pasted)

    def pending(self) -> list[str]:
        """File paths and data URLs, as the backend's `images` field takes them."""
        return self.composer.attachments()

    def clear(self) -> None:
        """They went with a message."""
        self.composer.clear_attachments()

    def attach_files(self, paths: list[str]) -> None:
        for path in paths:
            chip = self.composer.add_attachment(path, PurePath(path).name)
            chip.show_thumbnail(self.thumbnails, path)
            self._label(chip, path)

    def attach_pasted(self, image: QImage) -> None:
        size = self.thumbnails.size
        self.connection.runner.submit(
            lambda: pasted_image_reference(image, size), self._add_pasted, self.error.emit
        )

    def _add_pasted(self, encoded: tuple[str, QImage]) -> None:
        data_url, thumbnail = encoded
        chip = self.composer.add_attachment(data_url, "pasted image")
        chip.set_image(thumbnail)
        self._label(chip, data_url)

    def _label(self, chip: ImageChip, reference: str) -> None:
        """CLIP's labels and the read text, shown before sending so the user knows what the
        model will be told."""

        def show(found: ImageReading) -> None:
            if shiboken6.isValid(chip):  # the user may have removed it meanwhile
                chip.set_labels(found.labels)
                chip.set_read_text(found.text)

        def explain(message: str) -> None:
            if shiboken6.isValid(chip):
                chip.show_labelling_failed(message)

        self.connection.call(lambda api: api.images.label(reference), show, explain)
