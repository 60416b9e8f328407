"""Chroma: the only owner of chromadb, embedded (PersistentClient) or a server.

One `VectorStore` holds the process's one client. Documents keep their chunks in it through
`ChunkStore`, and images keep their vectors through `VectorCollection`; nothing else sees Chroma.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from backend.lazy import Lazy
from backend.paths import HomeLayout

if TYPE_CHECKING:
    from backend.embeddings.minilm import MiniLmEmbedder


PAGE_SIZE = 5000

# Every field Hearth files with a vector is text (a path, a folder, a digest).
Metadata = dict[str, str]


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]
    distance: float | None = None
    vector: np.ndarray | None = None


def chroma_name(collection: str) -> str:
    """Chroma allows fewer names than Hearth, so the Chroma name is a digest of Hearth's."""
    return "hearth-docs-" + hashlib.sha256(collection.encode()).hexdigest()[:24]


def _embedding_function(embedder: MiniLmEmbedder) -> Any:
    """Our embedder in Chroma's interface, so Chroma never falls back to downloading its own."""
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

    # Chroma warns about embedding functions that lack any of these methods.
    class HearthEmbeddingFunction(EmbeddingFunction[Documents]):
        def __init__(self) -> None:
            pass

        def __call__(self, input: Documents) -> Embeddings:
            return list(embedder.embed(list(input)))

        @staticmethod
        def name() -> str:
            return "hearth-" + embedder.name

        def get_config(self) -> dict[str, Any]:
            return {}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> HearthEmbeddingFunction:
            return HearthEmbeddingFunction()

        def default_space(self) -> Any:
            return "cosine"

    return HearthEmbeddingFunction()


def _open_client(layout: HomeLayout, chroma_url: str | None) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=settings,
        )
    return chromadb.PersistentClient(path=str(layout.chroma), settings=settings)


class ChunkStore:
    """One Chroma collection per Hearth collection; vectors are always computed by Hearth."""

    def __init__(self, client: Any, embedder: MiniLmEmbedder) -> None:
        self._client = client
        self._function = _embedding_function(embedder)
        self._handles: dict[str, Any] = {}

    def _collection(self, name: str) -> Any:
        if name not in self._handles:
            self._handles[name] = self._client.get_or_create_collection(
                chroma_name(name),
                embedding_function=self._function,
                metadata={"hearth_collection": name, "hnsw:space": "cosine"},
            )
        return self._handles[name]

    def upsert(
        self,
        name: str,
        ids: Sequence[str],
        texts: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        collection = self._collection(name)
        step = self._client.get_max_batch_size()
        for i in range(0, len(ids), step):
            collection.upsert(
                ids=list(ids[i : i + step]),
                documents=list(texts[i : i + step]),
                embeddings=vectors[i : i + step],
                metadatas=list(metadatas[i : i + step]),
            )

    def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        """Delete these chunks' vectors; ids Chroma does not hold are no error."""
        collection = self._collection(name)
        step = self._client.get_max_batch_size()
        for i in range(0, len(ids), step):
            collection.delete(ids=list(ids[i : i + step]))

    def count(self, name: str) -> int:
        return int(self._collection(name).count())

    def drop(self, name: str) -> None:
        self._handles.pop(name, None)
        if chroma_name(name) in {c.name for c in self._client.list_collections()}:
            self._client.delete_collection(chroma_name(name))

    def query(self, name: str, vector: np.ndarray, k: int) -> list[StoredChunk]:
        collection = self._collection(name)
        found = collection.query(
            query_embeddings=vector[None, :],
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        return [
            StoredChunk(i, t, m, d)
            for i, t, m, d in zip(
                found["ids"][0],
                found["documents"][0],
                found["metadatas"][0],
                found["distances"][0],
                strict=True,
            )
        ]

    def get(self, name: str, ids: Sequence[str]) -> list[StoredChunk]:
        """The given chunks with their vectors, in id order."""
        found = self._collection(name).get(
            ids=list(ids), include=["documents", "metadatas", "embeddings"]
        )
        chunks = [
            StoredChunk(i, t, m, None, np.asarray(v))
            for i, t, m, v in zip(
                found["ids"],
                found["documents"],
                found["metadatas"],
                found["embeddings"],
                strict=True,
            )
        ]
        return sorted(chunks, key=lambda c: c.id)

    def all(self, name: str) -> list[StoredChunk]:
        """Every chunk of the collection without vectors, in id order."""
        collection = self._collection(name)
        chunks: list[StoredChunk] = []
        while True:
            # Paged: one request for a large collection exceeds SQLite's variable limit.
            page = collection.get(
                include=["documents", "metadatas"], limit=PAGE_SIZE, offset=len(chunks)
            )
            chunks += [
                StoredChunk(i, t, m)
                for i, t, m in zip(page["ids"], page["documents"], page["metadatas"], strict=True)
            ]
            if len(page["ids"]) < PAGE_SIZE:
                return sorted(chunks, key=lambda c: c.id)


@dataclass(frozen=True)
class StoredVector:
    id: str
    metadata: Metadata
    distance: float | None = None  # cosine distance to the query, from `query`
    vector: np.ndarray | None = None  # from `get(with_vectors=True)`


def _where(fields: Metadata) -> dict[str, Any]:
    """Chroma's filter for metadata equal to every given field."""
    if len(fields) == 1:
        return dict(fields)
    return {"$and": [{key: value} for key, value in fields.items()]}


class VectorCollection:
    """A Chroma collection of vectors that Hearth computes, with text metadata and no documents."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self._collection = client.get_or_create_collection(
            name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def upsert(
        self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[Metadata]
    ) -> None:
        """Store the vectors; an id already stored is replaced."""
        step = self._client.get_max_batch_size()
        for i in range(0, len(ids), step):
            self._collection.upsert(
                ids=list(ids[i : i + step]),
                embeddings=vectors[i : i + step],
                metadatas=list(metadatas[i : i + step]),
            )

    def get(self, where: Metadata | None = None, with_vectors: bool = False) -> list[StoredVector]:
        """The stored vectors whose metadata has all the `where` fields, in id order."""
        include = ["metadatas", "embeddings"] if with_vectors else ["metadatas"]
        found: list[StoredVector] = []
        while True:
            # Paged: one request for a large collection exceeds SQLite's variable limit.
            page = self._collection.get(
                where=_where(where) if where else None,
                include=include,
                limit=PAGE_SIZE,
                offset=len(found),
            )
            vectors = page["embeddings"] if with_vectors else [None] * len(page["ids"])
            found += [
                StoredVector(i, m, None, None if v is None else np.asarray(v))
                for i, m, v in zip(page["ids"], page["metadatas"], vectors, strict=True)
            ]
            if len(page["ids"]) < PAGE_SIZE:
                return sorted(found, key=lambda v: v.id)

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._collection.delete(ids=list(ids))

    def query(self, vector: np.ndarray, k: int) -> list[StoredVector]:
        """The `k` nearest vectors (fewer when fewer are stored), nearest first."""
        count = self.count()
        if count == 0:
            return []
        found = self._collection.query(
            query_embeddings=vector[None, :],
            n_results=min(k, count),
            include=["metadatas", "distances"],
        )
        return [
            StoredVector(i, m, float(d))
            for i, m, d in zip(
                found["ids"][0], found["metadatas"][0], found["distances"][0], strict=True
            )
        ]

    def count(self) -> int:
        return int(self._collection.count())


class VectorStore:
    """The process's one Chroma client, opened on first use, shared by documents and images."""

    def __init__(self, layout: HomeLayout, chroma_url: str | None) -> None:
        self._client = Lazy(partial(_open_client, layout, chroma_url))

    def chunks(self, embedder: MiniLmEmbedder) -> ChunkStore:
        """The documents' chunks, one Chroma collection per Hearth collection."""
        return ChunkStore(self._client.get(), embedder)

    def vectors(self, name: str) -> VectorCollection:
        """The collection `name` of vectors computed elsewhere (created if new)."""
        return VectorCollection(self._client.get(), name)

    def close(self) -> None:
        """Release the client, if it was opened (an embedded store's SQLite files with it)."""
        client = self._client.built()
        if client is not None:
            client.close()
