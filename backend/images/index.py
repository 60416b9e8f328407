"""Image search: folders of pictures embedded by CLIP into a Chroma collection of their own.

Indexing is incremental (a file whose bytes are unchanged is skipped) and crash-safe: each
image's id is derived from its path and written with upsert, so re-running after a kill at any
point converges on the same index, with no duplicates and nothing missing.

Batches go through one worker per core, each reading, hashing, decoding, cropping and embedding
its own batch on one thread (Pillow, hashlib and ONNX Runtime release the GIL): side by side
they keep every core busy without the waits of one run spread over all cores. Embeddings reach
Chroma in a few large writes, since each write has a fixed cost of tens of milliseconds; a kill
loses at most WRITE_INTERVAL_S (or WRITE_BATCH images) of work, which the next run redoes.
"""

from __future__ import annotations

import hashlib
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
from backend.images.indexed_folders import FolderRecord, reindex_needed
from backend.wire import ImageHit, ImageIndexEvent

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

# (sha256, pixels): pixels are a (size, size, 3) crop, None when the file is unchanged since it
# was indexed, or the reason it cannot be used.
Loaded = tuple[str, np.ndarray | str | None]


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


def collection_name(model: ClipModel) -> str:
    return "hearth-images-" + hashlib.sha256(model.name.encode()).hexdigest()[:20]


class ImageIndex:
    """One vector collection per CLIP model (each model has its own embedding space); with a
    `folders` record of which folders each model indexed, a search with a model that indexed
    none of them says they need indexing again instead of finding nothing."""

    def __init__(
        self,
        store: VectorStore,
        model: ClipModel,
        folders: FolderRecord | None = None,
        max_image_bytes: int = MAX_IMAGE_BYTES,
    ) -> None:
        self._model = model
        self._collection = store.vectors(collection_name(model))
        self._folders = folders
        self._max_image_bytes = max_image_bytes  # the max_image_bytes setting

    def _known_hashes(self, folder: Path) -> dict[str, str]:
        found = self._collection.get(where={"folder": str(folder)})
        return {stored.id: stored.metadata["sha256"] for stored in found}

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
            progress.removed = len(gone)
        batches = [files[start : start + BATCH] for start in range(0, len(files), BATCH)]
        pending = _PendingWrites(self._collection)
        workers = ThreadPoolExecutor(self._model.threads, thread_name_prefix="image-indexer")
        try:
            for embedded in self._embed_ahead(workers, batches, known):
                self._record(embedded, folder, progress, pending)
                if pending.due() or progress.done == progress.total:
                    pending.flush()
                yield progress
        finally:  # a consumer that stops early still keeps what was embedded
            workers.shutdown(cancel_futures=True)
            pending.flush()

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
        crops = [crop for _, crop in loaded if isinstance(crop, np.ndarray)]
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
                return digest, None
            # Decoded at reduced scale where the format allows: CLIP sees a small image.
            size = self._model.preprocess.size
            image = open_image(data, str(path), 2 * size, self._max_image_bytes)
            return digest, self._model.preprocess.crop(image)
        except (OSError, ImageDecodeError) as exc:
            return "", str(exc)

    def _record(
        self,
        embedded: _EmbeddedBatch,
        folder: Path,
        progress: ImageIndexEvent,
        pending: _PendingWrites,
    ) -> None:
        ids: list[str] = []
        metadatas: list[Metadata] = []
        for path, (digest, crop) in zip(embedded.paths, embedded.loaded, strict=True):
            progress.current = str(path)
            if crop is None:
                progress.skipped += 1
            elif isinstance(crop, str):
                progress.failures[str(path)] = crop
            else:
                ids.append(image_id(path))
                metadatas.append({"path": str(path), "folder": str(folder), "sha256": digest})
        if embedded.vectors is not None:
            pending.add(ids, embedded.vectors, metadatas)
            progress.embedded += len(ids)
        progress.done += len(embedded.paths)

    def _query(self, vector: np.ndarray, k: int) -> list[ImageHit]:
        if self._folders is not None and self.count() == 0:
            stale = self._folders.stale(self._model.name)
            if stale:
                raise reindex_needed(stale, self._model.name)
        return [
            ImageHit(path=found.metadata["path"], score=round(1.0 - (found.distance or 0.0), 6))
            for found in self._collection.query(vector, k)
        ]

    def search(self, text: str, k: int = 12) -> list[ImageHit]:
        return self._query(self._model.embed_texts([text])[0], k)

    def similar(self, path: Path, k: int = 12) -> list[ImageHit]:
        return self.similar_image(open_image(path), k)

    def similar_image(self, image: Image.Image, k: int = 12) -> list[ImageHit]:
        return self._query(self._model.embed_images([image])[0], k)

    def count(self) -> int:
        return self._collection.count()
