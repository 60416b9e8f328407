"""The documents service: collections added, synced, removed and searched, for the API and CLI."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backend.documents.bm25_store import Bm25Store, index_version
from backend.documents.ingest import IngestConfig, IngestEvent, IngestRun
from backend.documents.limits import DocumentLimits
from backend.documents.repair import RepairMarks, VectorRepair
from backend.documents.reranker import RERANK_DEPTH, Reranker, rerank
from backend.documents.retrieval import (
    Bm25Index,
    Hit,
    SearchMode,
    bm25_text,
    fuse,
)
from backend.documents.search_results import DenseCoverage, SearchResults
from backend.documents.sources import display_path, resolve_roots
from backend.documents.state import ChunkRow, CollectionInfo, FileRecord, IngestState
from backend.documents.vector_store import VectorStore
from backend.lazy import Lazy
from backend.paths import HomeLayout
from backend.settings import Settings

if TYPE_CHECKING:
    from backend.documents.vector_store import ChunkStore
    from backend.embeddings.minilm import MiniLmEmbedder

# Dense and BM25 each bring this many candidates per collection before fusion.
CANDIDATES = 40


def load_embedder(settings: Settings) -> MiniLmEmbedder:
    from backend.embeddings.minilm import EmbedderConfig, MiniLmEmbedder

    return MiniLmEmbedder.load(EmbedderConfig(threads=settings.threads))


class DocumentLibrary:
    """Owns the ingest state (with the chunks' text) and the BM25 indexes; asks Chroma for the
    chunks' vectors and for the embedder. The backend's `Services` hands it the process's one
    Chroma client and embedder; alone (the CLI with no backend running, tests) the library
    opens its own.

    Chroma and the embedder load on first use, so opening the library costs nothing, and a
    collection with no vectors yet is searched without opening Chroma.
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
        self.config = config or IngestConfig(limits=DocumentLimits.of(settings))
        self.state = IngestState(layout.database)
        self._embedder = embedder or Lazy(lambda: load_embedder(settings))
        self._own_vectors = vectors is None  # then closed with the library
        self._vectors = vectors or VectorStore(layout, settings.chroma_url)
        self._store = Lazy(lambda: self._vectors.chunks(self.embedder))
        self._reranker = Lazy(lambda: Reranker.load(settings.threads))
        self._bm25: dict[str, tuple[str, Bm25Index]] = {}  # name: (version, index)
        self._saved_bm25 = Bm25Store(layout.bm25)
        self._write_lock = threading.Lock()  # one indexing run at a time
        self._copy_lock = threading.Lock()  # one copy of an older collection's chunks
        self._repairs = RepairMarks(layout.root)
        self._location = settings.chroma_url or str(layout.chroma)  # named in errors

    @property
    def embedder(self) -> MiniLmEmbedder:
        return self._embedder.get()

    def _chunk_embedder(self) -> MiniLmEmbedder:
        """What embeds chunks: in the fast indexing mode, cut to each chunk's first 126 word
        pieces (queries and /v1/embeddings keep the full length)."""
        return self.embedder.shortened() if self.settings.fast_indexing else self.embedder

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
        self,
        name: str,
        paths: Sequence[str | Path],
        max_file_bytes: int | None = None,
        ocr: bool | None = None,
    ) -> Iterator[IngestEvent]:
        """Add files or folders to a collection (created if new) and index what changed.
        `ocr` switches reading scans and pictures on or off (None: as it was; new: on)."""
        roots = resolve_roots(paths)
        self.state.ensure_collection(name, roots)
        if ocr is not None:
            self.state.set_ocr(name, ocr)
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
            self._copy_from_chroma(name)
            run = IngestRun(name, self.state, self._store, self._chunk_embedder(), config)
            repair = VectorRepair(
                name, self.state, self._store, self._repairs, self._location, self.layout.database
            )
            try:
                repair.prepare()
                for event in run:
                    if event.type == "searchable":
                        self._bm25_index(name)  # built and saved now, so a cold search loads it
                    if event.type == "finished":
                        repair.confirm()
                    yield event
            except Exception as exc:  # a failed Chroma write marks the collection for repair
                raise repair.failed(exc, writing_vectors=run.phase == "embed") from exc

    def _copy_from_chroma(self, name: str) -> None:
        """A collection indexed before two-phase indexing has its chunks only in Chroma: they
        are copied into the ingest state once (already embedded)."""
        with self._copy_lock:
            if not self.state.chunks_in_chroma_only(name):
                return
            rows = [
                ChunkRow(
                    c.id, _stored_file(c.metadata), c.metadata["chunk_index"], c.text, c.metadata
                )
                for c in self.store.all(name)
            ]
            self.state.copy_from_chroma(name, rows)

    def remove(self, name: str) -> None:
        self.state.get(name)
        with self._write_lock:
            self.store.drop(name)
            self.state.delete(name)
            self._bm25.pop(name, None)
            self._saved_bm25.drop(name)
            self._repairs.clear(name)

    def search_results(
        self, query: str, collections: Sequence[str], k: int = 5, mode: SearchMode = "hybrid"
    ) -> SearchResults:
        """`search`, with how much of the collections dense search could see."""
        hits = self.search(query, collections, k, mode)
        counts = [self.state.chunk_counts(name) for name in collections]
        coverage = DenseCoverage.of(sum(t for t, _ in counts), sum(e for _, e in counts))
        return SearchResults(hits=hits, dense=coverage)

    def search(
        self, query: str, collections: Sequence[str], k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[Hit]:
        """The best `k` chunks across the collections, each with its cosine similarity when it
        has a vector. Chunks still waiting for theirs are found by BM25 alone. Hybrid search
        reranks its top fused candidates, and each of those carries its relevance."""
        versions = {name: self._ready(name) for name in collections}
        self._open_store_early(collections)
        vector = self.embedder.embed([query])[0]
        # Loaded, like BM25 below, while Chroma may still be opening on its own thread.
        reranker = self._reranker.get() if mode == "hybrid" else None
        rankings: dict[str, list[list[tuple[str, str, float]]]] = {"dense": [], "bm25": []}
        rows: dict[tuple[str, str], ChunkRow] = {}
        similarity: dict[tuple[str, str], float] = {}
        for name in collections:
            if mode != "dense":
                found_bm25 = self._bm25_index(name, versions[name]).search(query, CANDIDATES)
                rankings["bm25"].append([(name, i, score) for i, score in found_bm25])
            if mode != "bm25" and self._has_vectors(name):
                found = self.store.query(name, vector, CANDIDATES)
                # A vector still queued for deletion has no chunk any more: left out.
                known = {r.id: r for r in self.state.chunks(name, [c.id for c in found])}
                dense = [(c.id, 1.0 - (c.distance or 0.0)) for c in found if c.id in known]
                rows.update(((name, i), r) for i, r in known.items())
                similarity.update(((name, i), s) for i, s in dense)
                rankings["dense"].append([(name, i, s) for i, s in dense])
        ranked = _rank(rankings, mode)
        if reranker is None:
            return self._hits(ranked[:k], rows, similarity, vector)
        hits = self._hits(ranked[: max(k, RERANK_DEPTH)], rows, similarity, vector)
        return rerank(reranker, query, hits)[:k]

    def _ready(self, name: str) -> str:
        """Check the collection exists (and holds its chunks); the version of its BM25 index."""
        info = self.state.get(name)
        self._copy_from_chroma(name)
        return index_version(info.created_at, info.revision)

    def _open_store_early(self, collections: Sequence[str]) -> None:
        """Chroma's import is most of a cold search: it runs on a second thread while this one
        loads the embedder (ONNX Runtime lets go of the GIL), and `self.store` waits for it."""
        if self._store.built() is None and any(self._has_vectors(n) for n in collections):
            threading.Thread(target=_build_quietly, args=(self._store,), daemon=True).start()

    def _has_vectors(self, name: str) -> bool:
        return self.state.has_vectors(name)

    def _bm25_index(self, name: str, version: str | None = None) -> Bm25Index:
        """The collection's BM25 index at this version: kept in memory, else loaded from disk,
        else built from the stored chunks and saved."""
        if version is None:
            info = self.state.get(name)
            version = index_version(info.created_at, info.revision)
        cached = self._bm25.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        revision = self.state.revision(name)
        index = self._saved_bm25.load(name, version, revision)
        if index is None:
            chunks = self.state.chunks(name)
            texts = [bm25_text(c.text, c.metadata) for c in chunks]
            index = Bm25Index.build(revision, [c.id for c in chunks], texts)
            self._saved_bm25.save(name, version, index)
        self._bm25[name] = (version, index)
        return index

    def _hits(
        self,
        ranked: list[tuple[tuple[str, str], float]],
        rows: dict[tuple[str, str], ChunkRow],
        similarity: dict[tuple[str, str], float],
        vector: np.ndarray,
    ) -> list[Hit]:
        missing: dict[str, list[str]] = {}
        for key, _ in ranked:
            if key not in rows:
                missing.setdefault(key[0], []).append(key[1])
        for name, ids in missing.items():
            rows.update(((name, r.id), r) for r in self.state.chunks(name, ids))
            if self._has_vectors(name):  # BM25 hits that have a vector get their similarity
                found = self.store.get(name, ids)
                similarity.update(
                    ((name, c.id), float(np.dot(c.vector, vector)))
                    for c in found
                    if c.vector is not None
                )
        hits = []
        for key, score in ranked:
            row = rows[key]
            hit = Hit.from_stored(key[0], key[1], row.text, row.metadata, score)
            hit.similarity = similarity.get(key)
            hits.append(hit)
        return hits


def _build_quietly(lazy: Lazy[ChunkStore]) -> None:
    """Build ahead of use; a failure is left to the caller's own `get`, which raises it."""
    with contextlib.suppress(Exception):
        lazy.get()


def _stored_file(meta: dict[str, object]) -> str:
    """The exact path a chunk's metadata names (see ingest.file_key)."""
    raw = meta.get("path_bytes")
    return os.fsdecode(bytes.fromhex(str(raw))) if raw else str(meta["path"])


def _rank(
    rankings: dict[str, list[list[tuple[str, str, float]]]], mode: SearchMode
) -> list[tuple[tuple[str, str], float]]:
    """Keys (collection, chunk id) best first: by fusion (retrieval.FUSION, chosen on the dev
    set) in hybrid mode, else by score."""
    keyed = {
        kind: [[((n, i), s) for n, i, s in r] for r in found] for kind, found in rankings.items()
    }
    if mode == "hybrid":
        return fuse(keyed["dense"], keyed["bm25"])
    merged = [item for found in keyed.values() for ranking in found for item in ranking]
    return sorted(merged, key=lambda item: (-item[1], item[0]))
