"""The search pipeline bench/rag_eval.py measures, held in memory so that variants are cheap.

Files go through Hearth's own parsers (`parse_document`), chunker (`chunk_blocks`), embedder
(`MiniLmEmbedder`), BM25 (`Bm25Index`) and fusion (`retrieval.fuse`), as `DocumentLibrary`
does; only Chroma is left out: dense search here is an exact cosine over all chunk vectors
(Chroma's HNSW index is approximate, and at a few thousand chunks finds the same neighbours).

Embeddings are cached on disk by the model, its length and the exact text embedded, so a
variant re-embeds only the chunks it changes (a chunking variant changes most of them, a
fusion or depth variant none). Embedding is CPU-heavy: run the bench with `nice -n 10`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from backend.documents.blocks import Chunk
from backend.documents.chunking import ChunkingConfig, chunk_blocks
from backend.documents.parsers import parse_document
from backend.documents.retrieval import HEADING_SEPARATOR, Bm25Index, Hit, bm25_text
from backend.embeddings.minilm import EmbedderConfig, MiniLmEmbedder

Context = Literal["none", "headings", "name"]
SHARD_ROWS = 512  # new embeddings are saved this often, so a stopped run keeps its work


@dataclass(frozen=True)
class Variant:
    """What changes the indexed chunks or their vectors."""

    target_tokens: int = ChunkingConfig().target_tokens
    overlap_tokens: int = ChunkingConfig().overlap_tokens
    # What is embedded and what BM25 sees besides the chunk's text: nothing, its heading path
    # (Hearth today), or the file's name and its heading path.
    context: Context = "headings"
    max_tokens: int = EmbedderConfig().max_tokens

    def label(self) -> str:
        return (
            f"chunks {self.target_tokens}/{self.overlap_tokens}, context {self.context}, "
            f"max length {self.max_tokens}"
        )


def context_prefix(chunk: Chunk, name: str, context: Context) -> tuple[str, str]:
    """(embedded text, BM25 text) of one chunk; 'headings' is exactly what Hearth indexes."""
    meta = {"headings": HEADING_SEPARATOR.join(chunk.headings)} if chunk.headings else {}
    if context == "none":
        return chunk.text, chunk.text
    if context == "headings":
        return chunk.embedding_text(), bm25_text(chunk.text, meta)
    path = " > ".join((name, *chunk.headings))
    return f"{path}\n{chunk.text}", f"{path.replace(' > ', ' ')}\n{chunk.text}"


class EmbeddingCache:
    """Vectors by sha256 of (model, max length, text), in .npz shards under one folder."""

    def __init__(self, folder: Path, embedder: MiniLmEmbedder) -> None:
        self.embedder = embedder
        self.folder = folder / f"{embedder.name}-{embedder.config.max_tokens}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.vectors: dict[str, np.ndarray] = {}
        for shard in sorted(self.folder.glob("*.npz")):
            with np.load(shard) as saved:
                self.vectors.update(zip(saved["keys"].tolist(), saved["vectors"], strict=True))
        self.embedded = 0
        self.seconds = 0.0

    def key(self, text: str) -> str:
        model = f"{self.embedder.name}\0{self.embedder.config.max_tokens}\0"
        return hashlib.sha256((model + text).encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}.items()
        )
        for start in range(0, len(missing), SHARD_ROWS):
            part = missing[start : start + SHARD_ROWS]
            began = time.perf_counter()
            found = self.embedder.embed([t for _, t in part])
            self.seconds += time.perf_counter() - began
            self.embedded += len(part)
            self.vectors.update(zip([k for k, _ in part], found, strict=True))
            name = hashlib.sha256("".join(k for k, _ in part).encode()).hexdigest()[:16]
            np.savez(
                self.folder / f"{name}.npz", keys=np.array([k for k, _ in part]), vectors=found
            )
            print(f"  embedded {min(start + SHARD_ROWS, len(missing))}/{len(missing)} new texts")
        if not keys:
            return np.zeros((0, self.embedder.dimensions), dtype=np.float32)
        return np.stack([self.vectors[k] for k in keys])


@dataclass
class SearchIndex:
    """One corpus chunked, embedded and BM25-indexed as one variant."""

    hits: list[Hit]
    vectors: np.ndarray
    bm25: Bm25Index
    position: dict[str, int] = field(default_factory=dict)

    def dense(self, query_vector: np.ndarray, depth: int) -> list[tuple[str, float]]:
        similarity = self.vectors @ query_vector
        best = np.argsort(-similarity, kind="stable")[:depth]
        return [(self.hits[i].chunk_id, float(similarity[i])) for i in best]

    def lexical(self, query: str, depth: int) -> list[tuple[str, float]]:
        return self.bm25.search(query, depth)

    def hit(self, chunk_id: str, score: float) -> Hit:
        return self.hits[self.position[chunk_id]].model_copy(update={"score": score})


def chunk_file(path: Path, embedder: MiniLmEmbedder, variant: Variant) -> list[Chunk]:
    config = ChunkingConfig(
        target_tokens=variant.target_tokens, overlap_tokens=variant.overlap_tokens
    )
    return chunk_blocks(parse_document(path), embedder.count_tokens, config)


def build_index(
    files: Sequence[Path], variant: Variant, embedder: MiniLmEmbedder, cache: EmbeddingCache
) -> SearchIndex:
    hits: list[Hit] = []
    embedded: list[str] = []
    lexical: list[str] = []
    for path in files:
        for chunk in chunk_file(path, embedder, variant):
            dense_text, bm25_body = context_prefix(chunk, path.name, variant.context)
            chunk_id = f"{len(hits)}"
            hits.append(
                Hit(
                    chunk_id=chunk_id,
                    collection="eval",
                    source=str(path),
                    page=chunk.page,
                    headings=list(chunk.headings),
                    text=chunk.text,
                    score=0.0,
                )
            )
            embedded.append(dense_text)
            lexical.append(bm25_body)
    print(f"{variant.label()}: {len(files)} files, {len(hits)} chunks")
    vectors = cache.embed(embedded)
    ids = [h.chunk_id for h in hits]
    return SearchIndex(
        hits, vectors, Bm25Index.build(0, ids, lexical), {i: n for n, i in enumerate(ids)}
    )
