"""Image search: folders of pictures embedded by CLIP into a Chroma collection of their own.

Indexing is incremental (a file whose bytes are unchanged is skipped) and crash-safe: each
image's id is derived from its path and written with upsert, so re-running after a kill at any
point converges on the same index, with no duplicates and nothing missing.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from backend.images.clip import ClipModel
from backend.images.decode import ImageDecodeError, open_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
BATCH = 16


class FolderNotFoundError(ValueError):
    """The folder to index does not exist or is not a folder."""


@dataclass(frozen=True)
class ImageHit:
    path: str
    score: float  # cosine similarity, 1 is identical


@dataclass
class IndexProgress:
    """Reported after each batch; `failures` maps a path to why it was skipped."""

    done: int
    total: int
    current: str = ""
    embedded: int = 0
    skipped: int = 0
    removed: int = 0
    failures: dict[str, str] = field(default_factory=dict)


def image_id(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:32]


def find_images(folder: Path) -> list[Path]:
    return sorted(
        p.resolve()
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


class ImageIndex:
    """One Chroma collection per CLIP model (each model has its own embedding space)."""

    def __init__(self, client: Any, model: ClipModel) -> None:
        self._model = model
        name = "hearth-images-" + hashlib.sha256(model.name.encode()).hexdigest()[:20]
        self._collection = client.get_or_create_collection(
            name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def _known_hashes(self, folder: Path) -> dict[str, str]:
        found = self._collection.get(where={"folder": str(folder)}, include=["metadatas"])
        return {i: m["sha256"] for i, m in zip(found["ids"], found["metadatas"], strict=True)}

    def index_folder(self, folder: Path) -> Iterator[IndexProgress]:
        """Embed new and changed images, forget deleted ones; yields progress per batch."""
        if not folder.is_dir():
            raise FolderNotFoundError(f"{folder} is not a folder")
        folder = folder.resolve()
        files = find_images(folder)
        known = self._known_hashes(folder)
        progress = IndexProgress(done=0, total=len(files))
        gone = set(known) - {image_id(p) for p in files}
        if gone:
            self._collection.delete(ids=sorted(gone))
            progress.removed = len(gone)
        for start in range(0, len(files), BATCH):
            batch = files[start : start + BATCH]
            self._store(batch, [self._load(path, known) for path in batch], folder, progress)
            yield progress

    def index_all(self, folder: Path) -> IndexProgress:
        """Index `folder` to the end and return the final progress."""
        last = deque(self.index_folder(folder), maxlen=1)
        return last[0] if last else IndexProgress(done=0, total=0)

    def _load(self, path: Path, known: dict[str, str]) -> tuple[str, Image.Image | str | None]:
        """(sha256, image): the image is None when unchanged, an error message when unusable."""
        try:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if known.get(image_id(path)) == digest:
                return digest, None
            # Decoded at reduced scale where the format allows: CLIP sees a small image.
            return digest, open_image(data, str(path), at_least=2 * self._model.preprocess.size)
        except (OSError, ImageDecodeError) as exc:
            return "", str(exc)

    def _store(
        self,
        paths: list[Path],
        loaded: list[tuple[str, Image.Image | str | None]],
        folder: Path,
        progress: IndexProgress,
    ) -> None:
        ids, images, metadatas = [], [], []
        for path, (digest, image) in zip(paths, loaded, strict=True):
            progress.current = str(path)
            if image is None:
                progress.skipped += 1
            elif isinstance(image, str):
                progress.failures[str(path)] = image
            else:
                ids.append(image_id(path))
                images.append(image)
                metadatas.append({"path": str(path), "folder": str(folder), "sha256": digest})
        if ids:
            vectors = self._model.embed_images(images)
            self._collection.upsert(ids=ids, embeddings=vectors, metadatas=metadatas)
            progress.embedded += len(ids)
        progress.done += len(paths)

    def _query(self, vector: np.ndarray, k: int) -> list[ImageHit]:
        count = self._collection.count()
        if count == 0:
            return []
        found = self._collection.query(
            query_embeddings=vector[None, :],
            n_results=min(k, count),
            include=["metadatas", "distances"],
        )
        return [
            ImageHit(m["path"], round(1.0 - float(d), 6))
            for m, d in zip(found["metadatas"][0], found["distances"][0], strict=True)
        ]

    def search(self, text: str, k: int = 12) -> list[ImageHit]:
        return self._query(self._model.embed_texts([text])[0], k)

    def similar(self, path: Path, k: int = 12) -> list[ImageHit]:
        return self.similar_image(open_image(path), k)

    def similar_image(self, image: Image.Image, k: int = 12) -> list[ImageHit]:
        return self._query(self._model.embed_images([image])[0], k)

    def count(self) -> int:
        return int(self._collection.count())
