"""The backend's images: one CLIP model and its search index, loaded on first use, and the
text read in pictures (the OCR engine is the process's one, `backend.ocr.ocr_engine`).

The index keeps its vectors in the `VectorStore` it is given, the process's one Chroma client.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PIL import Image

from backend.images.attachments import (
    Attachment,
    image_labels,
    read_image_reference,
    store_attachment,
)
from backend.images.clip import ClipModel
from backend.images.decode import open_image
from backend.images.index import ImageIndex
from backend.images.indexed_folders import FolderRecord, IndexedFolder, indexed_folders
from backend.images.labels import label_image
from backend.images.registry import find_clip_model
from backend.images.text import joined, read_text, reading
from backend.ocr import OcrError
from backend.paths import HomeLayout
from backend.settings import Settings
from backend.wire import ImageLabel, ImageReading, ImageTextLine

if TYPE_CHECKING:
    from backend.documents.vector_store import VectorStore

ATTACHMENT_LABELS = 5
log = logging.getLogger(__name__)


class ImageService:
    def __init__(self, layout: HomeLayout, settings: Settings, vectors: VectorStore) -> None:
        self._layout = layout
        self._settings = settings
        self._vectors = vectors
        self._lock = threading.Lock()
        self._model: ClipModel | None = None
        self._index: ImageIndex | None = None

    @property
    def model(self) -> ClipModel:
        with self._lock:
            if self._model is None:
                folder = find_clip_model(self._layout, self._settings.image_model)
                self._model = ClipModel(folder, threads=self._settings.threads)
            return self._model

    @property
    def index(self) -> ImageIndex:
        model = self.model
        with self._lock:
            if self._index is None:
                folders = FolderRecord.of(self._layout)
                limit = self._settings.max_image_bytes
                self._index = ImageIndex(self._vectors, model, folders, max_image_bytes=limit)
            return self._index

    def indexed_folders(self) -> list[IndexedFolder]:
        """The folders image models indexed, and which the current model has not (re-index
        those with `index.index_folder`: it embeds with the current model)."""
        return indexed_folders(self._layout, self._settings.image_model)

    def label(
        self, image: Image.Image, labels: Sequence[str] = (), top: int = 5
    ) -> list[ImageLabel]:
        return label_image(self.model, image, labels, top)

    def read_reference(
        self, reference: str, labels: Sequence[str] = (), top: int = 5, text: bool = True
    ) -> ImageReading:
        """CLIP's labels for the referenced image and, with `text`, the text read in it."""
        _, _, image = self._read(reference)
        lines = read_text(image) if text else []
        return reading(self.label(image, labels, top), lines)

    def _read(self, reference: str) -> tuple[bytes, str, Image.Image]:
        """The referenced image's bytes, name and pixels, refused past max_image_bytes."""
        data, name = read_image_reference(reference, self._settings.max_image_bytes)
        return data, name, open_image(data, name, limit=self._settings.max_image_bytes)

    def attach(self, references: Sequence[str]) -> list[Attachment]:
        """Store each referenced image under HEARTH_HOME/attachments, label it and read its
        text."""
        attachments = []
        for reference in references:
            data, name, image = self._read(reference)  # refused here, before anything is stored
            stored = store_attachment(self._layout.root / "attachments", data, image)
            labels = image_labels(self.label(image, top=ATTACHMENT_LABELS))
            text = joined(_text_or_none(image, name))
            attachments.append(Attachment(path=str(stored), name=name, labels=labels, text=text))
        return attachments


def _text_or_none(image: Image.Image, name: str) -> list[ImageTextLine]:
    """An image whose text cannot be read still goes with the message, with its labels: the
    log says why its text is missing."""
    try:
        return read_text(image)
    except OcrError as exc:
        log.warning("%s: text not read: %s", name, exc)
        return []
