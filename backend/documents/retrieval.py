"""Ranking chunks: BM25 over a collection's chunks, and reciprocal rank fusion with dense hits."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, Field

SearchMode = Literal["hybrid", "dense", "bm25"]
# Cormack et al. (2009) used k = 60 to fuse deep runs (1,000 documents from many systems); with
# two short lists (40 candidates each) a smaller k lets a confident top rank in either list
# count. k = 5 was chosen on the dev half of bench/rag_questions.json, never on the FAQ set.
RRF_K = 5
# Chroma metadata holds strings, not lists; the heading path is joined with a character that
# never occurs in a heading (ASCII unit separator).
HEADING_SEPARATOR = "\x1f"


class Hit(BaseModel):
    """One retrieved chunk with the place it can be checked at."""

    chunk_id: str
    collection: str
    source: str = Field(description="Absolute path of the file.")
    page: int | None = Field(None, description="1-based page, for paged documents.")
    start_line: int | None = Field(None, description="1-based first line in the file or page.")
    end_line: int | None = None
    char_start: int | None = Field(None, description="Span in the extracted text, when no lines.")
    char_end: int | None = None
    headings: list[str] = Field(default_factory=list, description="Section path of the chunk.")
    text: str
    ocr: bool = Field(False, description="The text was read by OCR from a scan or a picture.")
    score: float = Field(description="Ranking score of the chosen mode (higher is better).")
    similarity: float | None = Field(None, description="Cosine similarity to the query.")
    relevance: float | None = Field(
        None, description="The reranker's 0-1 judgement that it answers the query (hybrid)."
    )

    @classmethod
    def from_stored(
        cls, collection: str, chunk_id: str, text: str, meta: dict[str, Any], score: float
    ) -> Hit:
        headings = meta.get("headings")
        return cls(
            chunk_id=chunk_id,
            collection=collection,
            source=meta["path"],
            page=meta.get("page"),
            start_line=meta.get("start_line"),
            end_line=meta.get("end_line"),
            char_start=meta.get("char_start"),
            char_end=meta.get("char_end"),
            headings=headings.split(HEADING_SEPARATOR) if headings else [],
            text=text,
            ocr=bool(meta.get("ocr", False)),
            score=score,
        )


def bm25_text(text: str, meta: dict[str, Any]) -> str:
    """Headings count as words of the chunk, as they do for the embedder."""
    headings = meta.get("headings")
    return f"{headings.replace(HEADING_SEPARATOR, ' ')}\n{text}" if headings else text


@dataclass
class Bm25Index:
    """A bm25s index over one collection at one revision."""

    revision: int
    ids: list[str]
    retriever: Any

    @classmethod
    def build(cls, revision: int, ids: list[str], texts: Sequence[str]) -> Bm25Index:
        import bm25s

        retriever = bm25s.BM25()
        if ids:
            tokens = bm25s.tokenize(list(texts), stopwords="en", show_progress=False)
            retriever.index(tokens, show_progress=False)
        return cls(revision, ids, retriever)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        import bm25s

        if not self.ids:
            return []
        words = bm25s.tokenize(query, stopwords="en", return_ids=False, show_progress=False)[0]
        known = [w for w in words if w in self.retriever.vocab_dict]
        if not known:
            return []
        # Every chunk's score, then the top k: bm25s's own `retrieve` does the same through a
        # thread pool and a progress bar, 40 ms instead of 1 ms at 100k chunks.
        scores = self.retriever.get_scores(known)
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        best = top[np.lexsort((top, -scores[top]))]  # by score, ties by position
        return [(self.ids[int(i)], float(scores[i])) for i in best if scores[i] > 0]


Key = TypeVar("Key", bound=Hashable)
FusionMethod = Literal["rrf", "score"]


class Fusion(BaseModel, frozen=True):
    """How hybrid search merges the dense and BM25 rankings."""

    method: FusionMethod = Field(
        "rrf",
        description="'rrf': weighted reciprocal rank fusion; 'score': min-max normalised "
        "scores, weighted and summed.",
    )
    dense_weight: float = Field(1.0, ge=0)
    bm25_weight: float = Field(1.0, ge=0)
    k: int = Field(RRF_K, ge=0, description="RRF's rank offset (unused by 'score').")


# Chosen on the generated dev set (bench/rag_dev_questions.json, 314 questions, 2,633 chunks),
# never on the evaluation sets; MRR@10 there: equal-weight RRF k=5 (before) 0.622, the best
# weighted RRF (k=10, BM25 weight 1.5) 0.637, normalised score fusion with equal weights 0.655
# (BM25 weight 0.6: 0.657, within one question of it; 0.3: 0.623). Score fusion keeps how far
# ahead a confident first hit is, which ranks throw away. Figures: bench/README.md.
FUSION = Fusion(method="score", dense_weight=0.5, bm25_weight=0.5)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Key]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[tuple[Key, float]]:
    """Keys by the weighted sum over rankings of 1 / (k + rank), best first (ties by first seen).

    `weights` go with `rankings` one to one; without them every ranking counts the same.
    """
    if weights is not None and len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    scores: dict[Key, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])


def normalised_score_fusion(
    rankings: Sequence[Sequence[tuple[Key, float]]], weights: Sequence[float]
) -> list[tuple[Key, float]]:
    """Keys by the weighted sum of their min-max normalised scores (1 for a list's best, 0 for
    its last or absence), best first (ties by first seen)."""
    scores: dict[Key, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if not ranking:
            continue
        values = [score for _, score in ranking]
        low, spread = min(values), max(values) - min(values)
        for key, score in ranking:
            share = (score - low) / spread if spread > 0 else 1.0
            scores[key] = scores.get(key, 0.0) + weight * share
    return sorted(scores.items(), key=lambda item: -item[1])


def fuse(
    dense: Sequence[Sequence[tuple[Key, float]]],
    bm25: Sequence[Sequence[tuple[Key, float]]],
    fusion: Fusion = FUSION,
) -> list[tuple[Key, float]]:
    """Dense rankings (one per collection, by cosine) and BM25 rankings (one per collection,
    by BM25 score) merged into one, best first."""
    weights = [fusion.dense_weight] * len(dense) + [fusion.bm25_weight] * len(bm25)
    rankings = [*dense, *bm25]
    if fusion.method == "score":
        return normalised_score_fusion(rankings, weights)
    return reciprocal_rank_fusion([[key for key, _ in r] for r in rankings], weights, fusion.k)
