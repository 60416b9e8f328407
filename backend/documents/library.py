"""The documents service: collections added, synced, removed and searched, for the API and CLI."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backend.documents.ingest import IngestConfig, IngestEvent, IngestRun
from backend.documents.retrieval import (
    Bm25Index,
    Hit,
    SearchMode,
    bm25_text,
    reciprocal_rank_fusion,
)
from backend.documents.sources import display_path, resolve_roots
from backend.documents.state import CollectionInfo, FileRecord, IngestState
from backend.documents.vector_store import VectorStore
from backend.lazy import Lazy
from backend.paths import HomeLayout
from backend.settings import Settings

if TYPE_CHECKING:
    from backend.documents.vector_store import ChunkStore, StoredChunk
    from backend.embeddings.minilm import MiniLmEmbedder

# Dense and BM25 each bring this many candidates per collection before fusion.
CANDIDATES = 40


def load_embedder(settings: Settings) -> MiniLmEmbedder:
    from backend.embeddings.minilm import EmbedderConfig, MiniLmEmbedder

    return MiniLmEmbedder.load(EmbedderConfig(threads=settings.threads))


class DocumentLibrary:
    """Owns the ingest state and the BM25 indexes; asks for its chunks in Chroma and for the
    embedder. The backend's `Services` hands it the process's one Chroma client and embedder;
    alone (the CLI with no backend running, tests) the library opens its own.

    Chroma and the embedder load on first use, so opening the library costs nothing.
    """

    def __init__(
        self,
        layout: HomeLayout,
        settings: Settings,
        config: IngestConfig | None = None,
        *,
        vectors: VectorStore | None = None,
        embedder: Lazy[MiniLmEmbedder] | None = None,
    ) -> None:
        self.layout, self.settings = layout, settings
        self.config = config or IngestConfig()
        self.state = IngestState(layout.database)
        self._embedder = embedder or Lazy(lambda: load_embedder(settings))
        self._own_vectors = vectors is None  # then closed with the library
        self._vectors = vectors or VectorStore(layout, settings.chroma_url)
        self._store = Lazy(lambda: self._vectors.chunks(self.embedder))
        self._bm25: dict[str, Bm25Index] = {}
        self._write_lock = threading.Lock()  # one indexing run at a time

    @property
    def embedder(self) -> MiniLmEmbedder:
        return self._embedder.get()

    @property
    def store(self) -> ChunkStore:
        return self._store.get()

    def close(self) -> None:
        self.state.close()
        if self._own_vectors:
            self._vectors.close()

    def collections(self) -> list[CollectionInfo]:
        return self.state.list()

    def collection(self, name: str) -> CollectionInfo:
        return self.state.get(name)

    def files(self, name: str) -> list[FileRecord]:
        self.state.get(name)
        records = self.state.files(name).values()  # keyed by exact path; shown by display form
        return [r.model_copy(update={"path": display_path(r.path)}) for r in records]

    def add(
        self, name: str, paths: Sequence[str | Path], max_file_bytes: int | None = None
    ) -> Iterator[IngestEvent]:
        """Add files or folders to a collection (created if new) and index what changed."""
        roots = resolve_roots(paths)
        self.state.ensure_collection(name, roots)
        return self.sync(name, max_file_bytes)

    def sync(self, name: str, max_file_bytes: int | None = None) -> Iterator[IngestEvent]:
        """Re-read the collection's roots: new and changed files indexed, deleted ones removed.

        The work happens as the returned events are iterated; an unknown name fails at once.
        """
        self.state.get(name)
        config = self.config
        if max_file_bytes is not None:
            config = config.model_copy(update={"max_file_bytes": max_file_bytes})
        return self._run(name, config)

    def _run(self, name: str, config: IngestConfig) -> Iterator[IngestEvent]:
        with self._write_lock:
            yield from IngestRun(name, self.state, self.store, self.embedder, config)

    def remove(self, name: str) -> None:
        self.state.get(name)
        with self._write_lock:
            self.store.drop(name)
            self.state.delete(name)
            self._bm25.pop(name, None)

    def search(
        self, query: str, collections: Sequence[str], k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[Hit]:
        """The best `k` chunks across the collections, each with its cosine similarity."""
        for name in collections:
            self.state.get(name)
        vector = self.embedder.embed([query])[0]
        rankings: list[list[tuple[str, str, float]]] = []
        seen: dict[tuple[str, str], StoredChunk] = {}  # dense results need no second fetch
        for name in collections:
            if mode != "bm25":
                found = self.store.query(name, vector, CANDIDATES)
                seen.update(((name, c.id), c) for c in found)
                rankings.append([(name, c.id, 1.0 - (c.distance or 0.0)) for c in found])
            if mode != "dense":
                found_bm25 = self._bm25_index(name).search(query, CANDIDATES)
                rankings.append([(name, i, score) for i, score in found_bm25])
        return self._hits(_rank(rankings, mode)[:k], seen, vector)

    def _bm25_index(self, name: str) -> Bm25Index:
        revision = self.state.revision(name)
        cached = self._bm25.get(name)
        if cached is None or cached.revision != revision:
            chunks = self.store.all(name)
            texts = [bm25_text(c.text, c.metadata) for c in chunks]
            cached = Bm25Index.build(revision, [c.id for c in chunks], texts)
            self._bm25[name] = cached
        return cached

    def _hits(
        self,
        ranked: list[tuple[tuple[str, str], float]],
        seen: dict[tuple[str, str], StoredChunk],
        vector: np.ndarray,
    ) -> list[Hit]:
        missing: dict[str, list[str]] = {}
        for key, _ in ranked:
            if key not in seen:
                missing.setdefault(key[0], []).append(key[1])
        for name, ids in missing.items():
            seen.update(((name, c.id), c) for c in self.store.get(name, ids))
        hits = []
        for (name, chunk), score in ranked:
            found = seen[(name, chunk)]
            hit = Hit.from_stored(name, chunk, found.text, found.metadata, score)
            if found.vector is not None:
                hit.similarity = float(np.dot(found.vector, vector))
            elif found.distance is not None:
                hit.similarity = 1.0 - found.distance  # cosine distance, from the dense query
            hits.append(hit)
        return hits


def _rank(
    rankings: list[list[tuple[str, str, float]]], mode: SearchMode
) -> list[tuple[tuple[str, str], float]]:
    """Keys (collection, chunk id) best first: by fusion in hybrid mode, else by score."""
    if mode == "hybrid":
        return reciprocal_rank_fusion([[(n, i) for n, i, _ in r] for r in rankings])
    merged = [((n, i), s) for ranking in rankings for n, i, s in ranking]
    return sorted(merged, key=lambda item: (-item[1], item[0]))
