"""The reranker as rag_eval uses it: the top fused candidates reordered by fused score and
relevance.

It reads each candidate as search would (`passage_text`: heading path and text), scores it with
`Reranker.scores`, and orders by fused score plus a weight times `relevance` (0..1), the scale
of the "nothing relevant found" cut-off; the dev sweep chooses depth, weight and cut-off.
Until a model is installed, `load_reranker` returns None and rag_eval reports no rerank rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from backend.documents.retrieval import FUSION, Fusion, Hit
from backend.errors import HearthError

if TYPE_CHECKING:
    from rag_eval import Run

    from backend.documents.reranker import Reranker

RERANK_DEPTH = 30  # fused candidates reordered (the budget: 30 in 150 ms on 2 cores)
RERANK_WEIGHT = 2.0  # order: fused score (0-1 each of dense and BM25) + weight x relevance


def load_reranker(threads: int, files: Sequence[Path] | None = None) -> Reranker | None:
    """The installed reranker, or the model and tokenizer at `files` (one being built)."""
    try:
        from backend.documents.reranker import Reranker, RerankerConfig

        config = RerankerConfig(threads=threads)
        return Reranker(files[0], files[1], config) if files else Reranker.load(config)
    except (ImportError, OSError, HearthError) as exc:  # not installed yet
        print(f"no reranker ({exc}): no rerank rows")
        return None


@dataclass
class RerankRun:
    """Relevance is kept per (question, chunk), so depth, weight and cut-off sweeps score each
    pair once."""

    reranker: Reranker
    depth: int = RERANK_DEPTH
    weight: float = RERANK_WEIGHT
    fusion: Fusion = FUSION
    memo: dict[tuple[str, str], float] = field(default_factory=dict)

    def scored(
        self, run: Run, index: int, depth: int | None = None, weight: float | None = None
    ) -> list[tuple[str, float, float]]:
        """(chunk, ordering score, relevance) of the question's top fused candidates, best
        first, then its other candidates in fused order (relevance 0: not read)."""
        from backend.documents.reranker import passage_text, relevance

        question = run.questions[index].text
        fused = run.candidates[index].fused(self.fusion)
        depth = depth or self.depth
        weight = self.weight if weight is None else weight
        todo = [k for k, _ in fused[:depth] if (question, k) not in self.memo]
        if todo:
            texts = [passage_text(run.index.hit(k, 0.0)) for k in todo]
            found = relevance(self.reranker.scores(question, texts))
            self.memo.update(((question, k), float(s)) for k, s in zip(todo, found, strict=True))
        head = [(k, s + weight * self.memo[(question, k)], self.memo[(question, k)])
                for k, s in fused[:depth]]  # fmt: skip
        head.sort(key=lambda item: -item[1])
        return head + [(k, s, 0.0) for k, s in fused[depth:]]

    def reranked(
        self, run: Run, depth: int | None = None, weight: float | None = None
    ) -> list[list[Hit]]:
        return [
            run.hits([(k, s) for k, s, _ in self.scored(run, i, depth, weight)])
            for i in range(len(run.questions))
        ]
