"""The reranker as rag_eval uses it: the top fused candidates reordered by fused score and
relevance.

It reads each candidate as search would (`passage_text`: heading path and text), scores it with
`Reranker.scores`, and orders by fused score plus a weight times `relevance` (0..1), the scale
of the "nothing relevant found" cut-off; the dev sweep chooses depth, weight and cut-off.
Without the model (models/hearth-rerank), `load_reranker` returns None and rag_eval reports no
rerank rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from backend.documents.reranker import RERANK_DEPTH, RERANK_WEIGHT
from backend.documents.retrieval import FUSION, Fusion, Hit
from backend.errors import HearthError

if TYPE_CHECKING:
    from rag_eval import Run

    from backend.documents.reranker import Reranker


def load_reranker(threads: int, listing: Path | None = None) -> Reranker | None:
    """The installed reranker, or the one whose files.json is `listing` (a candidate)."""
    try:
        from backend.documents.reranker import Reranker

        return Reranker.load(threads, listing)
    except (ImportError, OSError, HearthError) as exc:  # not installed yet
        print(f"no reranker ({exc}): no rerank rows")
        return None


@dataclass
class RerankRun:
    """Each question's top `depth` candidates are scored in one batch, as search scores them
    (int8 relevance moves a little with the batch), and kept per (question, depth), so weight
    and cut-off sweeps score each batch once."""

    reranker: Reranker
    depth: int = RERANK_DEPTH
    weight: float = RERANK_WEIGHT
    fusion: Fusion = FUSION
    memo: dict[tuple[int, int], list[float]] = field(default_factory=dict)

    def scored(
        self, run: Run, index: int, depth: int | None = None, weight: float | None = None
    ) -> list[tuple[str, float, float]]:
        """(chunk, ordering score, relevance) of the question's top fused candidates, best
        first, then its other candidates in fused order (relevance 0: not read)."""
        from backend.documents.reranker import passage_text, relevance

        fused = run.candidates[index].fused(self.fusion)
        depth = depth or self.depth
        weight = self.weight if weight is None else weight
        if (index, depth) not in self.memo:
            texts = [passage_text(run.index.hit(k, 0.0)) for k, _ in fused[:depth]]
            found = relevance(self.reranker.scores(run.questions[index].text, texts))
            self.memo[(index, depth)] = [float(r) for r in found]
        read = self.memo[(index, depth)]
        head = [(k, s + weight * r, r) for (k, s), r in zip(fused[:depth], read, strict=True)]
        head.sort(key=lambda item: -item[1])
        return head + [(k, s, 0.0) for k, s in fused[depth:]]

    def reranked(
        self, run: Run, depth: int | None = None, weight: float | None = None
    ) -> list[list[Hit]]:
        return [
            run.hits([(k, s) for k, s, _ in self.scored(run, i, depth, weight)])
            for i in range(len(run.questions))
        ]
