"""Hybrid search's fusion of dense and BM25 rankings (backend/documents/retrieval.py)."""

from __future__ import annotations

import pytest

from backend.documents.retrieval import (
    Fusion,
    fuse,
    normalised_score_fusion,
    reciprocal_rank_fusion,
)

DENSE = [("a", 0.80), ("b", 0.78), ("c", 0.40)]
BM25 = [("d", 12.0), ("b", 11.0), ("e", 2.0)]


def keys(ranked: list[tuple[str, float]]) -> list[str]:
    return [key for key, _ in ranked]


def test_rrf_fusion_is_weighted_reciprocal_rank_fusion() -> None:
    fusion = Fusion(method="rrf", dense_weight=1.0, bm25_weight=0.5, k=3)
    expected = reciprocal_rank_fusion([keys(DENSE), keys(BM25)], [1.0, 0.5], 3)
    assert fuse([DENSE], [BM25], fusion) == expected
    assert keys(fuse([DENSE], [BM25], fusion))[:2] == ["b", "a"]


def test_score_fusion_uses_the_gaps_between_scores_not_only_ranks() -> None:
    # b is a close second by cosine and by BM25, so it beats a and d, each first in one list;
    # c and e are far behind in their lists and end last.
    fused = fuse([DENSE], [BM25], Fusion(method="score", dense_weight=0.5, bm25_weight=0.5))
    assert keys(fused) == ["b", "a", "d", "c", "e"]
    scores = dict(fused)
    assert scores["a"] == pytest.approx(0.5) and scores["e"] == pytest.approx(0.0)
    assert scores["b"] == pytest.approx(0.5 * 0.95 + 0.5 * 0.9)


def test_score_fusion_follows_weights_and_tolerates_flat_or_empty_lists() -> None:
    dense_only = fuse([DENSE], [BM25], Fusion(method="score", dense_weight=1.0, bm25_weight=0.0))
    assert keys(dense_only)[:3] == keys(DENSE)
    flat = normalised_score_fusion([[("x", 3.0), ("y", 3.0)], []], [1.0, 1.0])
    assert flat == [("x", 1.0), ("y", 1.0)]  # no spread: each counts fully, ties by first seen


def test_every_collection_brings_its_own_rankings() -> None:
    # Two collections: each one's dense and BM25 ranking is weighted by its kind.
    other_dense, other_bm25 = [("f", 0.9)], [("g", 5.0)]
    fusion = Fusion(method="rrf", dense_weight=1.0, bm25_weight=0.0, k=1)
    fused = fuse([DENSE, other_dense], [BM25, other_bm25], fusion)
    assert set(keys(fused)[:2]) == {"a", "f"}  # BM25 weight 0: only dense ranks count
    assert dict(fused)["g"] == 0.0
