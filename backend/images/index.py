"""Image search: folders of pictures embedded by CLIP into a Chroma collection of their own.

Indexing is incremental (a file whose bytes are unchanged is skipped) and crash-safe: each
image's id is derived from its path and written with upsert, so re-running after a kill at any
point converges on the same index, with no duplicates and nothing missing.

Batches go through one worker per core, each reading, hashing, decoding, cropping and embedding
its own batch on one thread (Pillow, hashlib and ONNX Runtime release the GIL): side by side
they keep every core busy without the waits of one run spread over all cores. Embeddings reach
Chroma in a few large writes, since each write has a fixed cost of tens of milliseconds; a kill
loses at most WRITE_INTERVAL_S (or WRITE_BATCH images) of work, which the next run redoes.

With `read_text` (the default) each picture's text is read too (`backend/images/text.py`: a
cheap check first, OCR only where it finds text) and kept in its metadata beside its vector,
written by the same upsert, so a kill never leaves a vector without its text. Search fuses
CLIP's ranking with BM25 over that text (`text_search`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from backend.documents.sources import display_path, find_entries
from backend.errors import InvalidRequestError
from backend.images.clip import ClipModel
from backend.images.decode import (
    MAX_IMAGE_BYTES,
    ImageDecodeError,
    open_image,
    read_image_file,
)
from backend.images.indexed_folders import FolderNotIndexedError, FolderRecord, reindex_needed
from backend.images.text import CHECK_SIDE, joined, might_hold_text, recognise
from backend.images.text_search import HAS_TEXT, TEXT, Candidate, ReadTextIndex, ranked_hits
from backend.wire import ImageHit, ImageIndexEvent, IndexedFolderRemoved

if TYPE_CHECKING:
    from backend.documents.vector_store import (
        Metadata,
        VectorCollection,
        VectorStore,
    )

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
BATCH = 16  # images per forward pass
WRITE_BATCH = 256  # embeddings per Chroma write at most...
WRITE_INTERVAL_S = 2.0  # ...and never more than this long of work held unwritten
NOT_UTF8_NAME = "its name is not valid UTF-8 (rename it to index it)"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """One file read for indexing."""

    digest: str = ""
    crop: np.ndarray | None = None  # (size, size, 3); None: unchanged since it was indexed
    text: str | None = None  # the text read in it; None: not read (OCR off, or it failed)
    failure: str | None = None  # why it cannot be used


@dataclass
class _EmbeddedBatch:
    paths: list[Path]
    loaded: list[Loaded]
    vectors: np.ndarray | None  # one row per crop in `loaded`, in order; None when there are none


class FolderNotFoundError(InvalidRequestError, ValueError):
    """The folder to index does not exist or is not a folder."""

    code = "folder_not_found"


def finished(progress: ImageIndexEvent) -> ImageIndexEvent:
    """The totals of a run that reached the end."""
    return progress.model_copy(update={"type": "image_finished"})


def image_id(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:32]


class _PendingWrites:
    """Embeddings waiting for one upsert; written when enough, or old enough, have gathered."""

    def __init__(self, collection: VectorCollection) -> None:
        self._collection = collection
        self._ids: list[str] = []
        self._vectors: list[np.ndarray] = []
        self._metadatas: list[Metadata] = []
        self._since = time.monotonic()

    def add(self, ids: list[str], vectors: np.ndarray, metadatas: list[Metadata]) -> None:
        if not self._ids:
            self._since = time.monotonic()
        self._ids += ids
        self._vectors.append(vectors)
        self._metadatas += metadatas

    def due(self) -> bool:
        return len(self._ids) >= WRITE_BATCH or (
            bool(self._ids) and time.monotonic() - self._since >= WRITE_INTERVAL_S
        )

    def flush(self) -> None:
        if self._ids:
            vectors = np.concatenate(self._vectors)
            self._collection.upsert(self._ids, vectors, self._metadatas)
            self._ids, self._vectors, self._metadatas = [], [], []


def find_images(folder: Path) -> tuple[list[Path], dict[str, str]]:
    """The image files under `folder` (hidden ones left out), and each entry left out, by the
    path it is shown as, with why: a link, a FIFO, a folder that cannot be listed, a name that is
    not UTF-8 (the index keeps names as text). The documents' walk, so none stops or hangs a run."""
    images, left_out = [], {}
    for found in find_entries(folder, lambda path: path.suffix.lower() in IMAGE_SUFFIXES):
        shown = display_path(found.path)
        reason = found.skipped or (NOT_UTF8_NAME if shown != str(found.path) else None)
        if reason is None:
            images.append(found.path)
        else:
            left_out[shown] = f"{shown}: {reason}"
    return sorted(images), left_out


def collection_name(model: str) -> str:
    """The vector collection of the image model named `model`."""
    return "hearth-images-" + hashlib.sha256(model.encode()).hexdigest()[:20]


class ImageIndex:
    """One vector collection per CLIP model (each model has its own embedding space); with a
    `folders` record of which folders each model indexed, a search with a model that indexed
    none of them says they need indexing again instead of finding nothing.

    `read_text=False` indexes pictures by CLIP alone, reading no text (the OCR bench compares
    both); a picture indexed so is read when a run with `read_text` meets it."""

    def __init__(
        self,
        store: VectorStore,
        model: ClipModel,
        folders: FolderRecord | None = None,
        read_text: bool = True,
        max_image_bytes: int = MAX_IMAGE_BYTES,
    ) -> None:
        self._model = model
        self._store = store
        self._collection = store.vectors(collection_name(model.name))
        self._folders = folders
        self._max_image_bytes = max_image_bytes  # the max_image_bytes setting
        self.read_text = read_text
        self._texts = ReadTextIndex(self._collection)

    def _known_hashes(self, folder: Path) -> dict[str, str]:
        """Each stored image's sha256; "" for one whose text is still to be read."""
        found = self._collection.get(where={"folder": str(folder)})
        return {
            stored.id: stored.metadata["sha256"]
            if TEXT not in self._missing(stored.metadata)
            else ""
            for stored in found
        }

    def _missing(self, metadata: Metadata) -> set[str]:
        return {TEXT} if self.read_text and TEXT not in metadata else set()

    def index_folder(self, folder: Path) -> Iterator[ImageIndexEvent]:
        """Embed new and changed images, forget deleted ones; yields progress per batch (one
        event, updated in place)."""
        if not folder.is_dir():
            raise FolderNotFoundError(f"{folder} is not a folder")
        folder = folder.resolve()
        if self._folders is not None:
            self._folders.add(folder, self._model.name)
        files, left_out = find_images(folder)
        known = self._known_hashes(folder)
        progress = ImageIndexEvent(done=0, total=len(files), failures=left_out)
        gone = set(known) - {image_id(p) for p in files}
        if gone:
            self._collection.delete(sorted(gone))
            self._texts.changed()
            progress.removed = len(gone)
        batches = [files[start : start + BATCH] for start in range(0, len(files), BATCH)]
        pending = _PendingWrites(self._collection)
        workers = ThreadPoolExecutor(self._model.threads, thread_name_prefix="image-indexer")
        try:
            for embedded in self._embed_ahead(workers, batches, known):
                self._record(embedded, folder, progress, pending)
                if pending.due() or progress.done == progress.total:
                    pending.flush()
                    self._texts.changed()
                yield progress
        finally:  # a consumer that stops early still keeps what was embedded
            workers.shutdown(cancel_futures=True)
            pending.flush()
            self._texts.changed()

    def index_all(self, folder: Path) -> ImageIndexEvent:
        """Index `folder` to the end and return the totals."""
        last = deque(self.index_folder(folder), maxlen=1)
        return finished(last[0] if last else ImageIndexEvent(done=0, total=0))

    def _embed_ahead(
        self, workers: ThreadPoolExecutor, batches: Sequence[list[Path]], known: dict[str, str]
    ) -> Iterator[_EmbeddedBatch]:
        """The batches embedded, in order, with a few more in flight than there are workers."""
        in_flight: deque[Future[_EmbeddedBatch]] = deque()
        for batch in batches:
            in_flight.append(workers.submit(self._embed_batch, batch, known))
            if len(in_flight) > self._model.threads:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()

    def _embed_batch(self, paths: list[Path], known: dict[str, str]) -> _EmbeddedBatch:
        loaded = [self._load(path, known) for path in paths]
        crops = [item.crop for item in loaded if item.crop is not None]
        vectors = None
        if crops:
            pixels = self._model.preprocess.normalise(crops)
            vectors = self._model.embed_pixels(pixels, one_thread=True)
        return _EmbeddedBatch(paths, loaded, vectors)

    def _load(self, path: Path, known: dict[str, str]) -> Loaded:
        try:
            # A FIFO or a file past the limit is refused, not read.
            data = read_image_file(path, limit=self._max_image_bytes)
            digest = hashlib.sha256(data).hexdigest()
            if known.get(image_id(path)) == digest:
                return Loaded(digest)
            # Decoded at reduced scale where the format allows: CLIP sees a small image, and
            # the text check one whose long side is CHECK_SIDE (up to a 2:1 aspect ratio).
            text_check = CHECK_SIDE // 2 if self.read_text else 0
            side = max(2 * self._model.preprocess.size, text_check)
            image = open_image(data, str(path), side, self._max_image_bytes)
            text = self._text_in(image, data, str(path)) if self.read_text else None
            return Loaded(digest, self._model.preprocess.crop(image), text)
        except (OSError, ImageDecodeError) as exc:
            return Loaded(failure=str(exc))

    @staticmethod
    def _text_in(image: Image.Image, data: bytes, name: str) -> str | None:
        """The text read in the picture: "" when the check finds none, None when OCR failed
        (the next run tries again). The recogniser reads the full-size picture."""
        if not might_hold_text(image):
            return ""
        from backend.ocr import OcrError

        try:
            return joined(recognise(open_image(data, name)))
        except OcrError as exc:
            log.warning("%s: text not read: %s", name, exc)
            return None

    def _record(
        self,
        embedded: _EmbeddedBatch,
        folder: Path,
        progress: ImageIndexEvent,
        pending: _PendingWrites,
    ) -> None:
        ids: list[str] = []
        metadatas: list[Metadata] = []
        for path, item in zip(embedded.paths, embedded.loaded, strict=True):
            progress.current = str(path)
            if item.failure is not None:
                progress.failures[str(path)] = item.failure
            elif item.crop is None:
                progress.skipped += 1
            else:
                ids.append(image_id(path))
                metadatas.append(_metadata(path, folder, item))
                progress.with_text += bool(item.text)
        if embedded.vectors is not None:
            pending.add(ids, embedded.vectors, metadatas)
            progress.embedded += len(ids)
        progress.done += len(embedded.paths)

    def _nearest(self, vector: np.ndarray, k: int) -> list[Candidate]:
        if self._folders is not None and self.count() == 0:
            stale = self._folders.stale(self._model.name)
            if stale:
                raise reindex_needed(stale, self._model.name)
        return [
            Candidate(found.id, found.metadata["path"], 1.0 - (found.distance or 0.0))
            for found in self._collection.query(vector, k)
        ]

    def search(self, text: str, k: int = 12, cutoff: bool = True) -> list[ImageHit]:
        """The pictures that best match `text`: those whose read text holds its words first,
        then by CLIP similarity. With `cutoff`, pictures far less likely than the best CLIP
        match are left out, so a search no longer returns every picture."""
        vector = self._model.embed_texts([text])[0]
        nearest = self._nearest(vector, k)
        matches = self._texts.search(text, vector, k)
        scale = self._model.logit_scale if cutoff else None
        return ranked_hits(nearest, matches, k, scale)

    def similar(self, path: Path, k: int = 12) -> list[ImageHit]:
        return self.similar_image(open_image(path, limit=self._max_image_bytes), k)

    def similar_image(self, image: Image.Image, k: int = 12) -> list[ImageHit]:
        return [hit.as_hit() for hit in self._nearest(self._model.embed_images([image])[0], k)]

    def remove_folder(self, folder: Path) -> IndexedFolderRemoved:
        """Forget an indexed folder: its pictures leave the collections of every image model
        that indexed it, then the record."""
        if self._folders is None:
            raise FolderNotIndexedError("this index keeps no record of folders")
        folder, models = self._folders.recorded(folder)
        current = self._collection.get(where={"folder": str(folder)})
        self._collection.delete([stored.id for stored in current])
        for model in set(models) - {self._model.name}:
            other = self._store.vectors(collection_name(model))
            other.delete([stored.id for stored in other.get(where={"folder": str(folder)})])
        self._texts.changed()
        self._folders.remove(folder)
        return IndexedFolderRemoved(folder=str(folder), images=len(current))

    def count(self) -> int:
        return self._collection.count()


def _metadata(path: Path, folder: Path, item: Loaded) -> Metadata:
    """What is stored beside a picture's vector: where it is, its bytes' hash and, once read,
    its text (`has_text` lets search fetch only the pictures that have some)."""
    metadata: Metadata = {"path": str(path), "folder": str(folder), "sha256": item.digest}
    if item.text is not None:
        metadata |= {TEXT: item.text, HAS_TEXT: "yes" if item.text else "no"}
    return metadata
