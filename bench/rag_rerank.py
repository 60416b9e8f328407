"""The reranker as rag_eval uses it: fused candidates reordered by hearth-rerank's relevance.

It reads each candidate as Hearth's search does (`passage_text`: heading path and text) and
scores it with `Reranker.scores`; `relevance` turns the logits into 0..1, the scale of the
"nothing relevant found" cut-off. Until the model is installed, `load_reranker` returns None
and rag_eval reports no rerank rows.
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
    """Relevance is kept per (question, chunk), so depth and cut-off sweeps score each once."""

    reranker: Reranker
    depth: int
    fusion: Fusion = FUSION
    memo: dict[tuple[str, str], float] = field(default_factory=dict)

    def scored(self, run: Run, index: int, depth: int | None = None) -> list[tuple[str, float]]:
        """The question's top fused candidates with their relevance, best first."""
        from backend.documents.reranker import passage_text, relevance

        question = run.questions[index].text
        keys = [k for k, _ in run.candidates[index].fused(self.fusion)[: depth or self.depth]]
        todo = [k for k in keys if (question, k) not in self.memo]
        if todo:
            texts = [passage_text(run.index.hit(k, 0.0)) for k in todo]
            found = relevance(self.reranker.scores(question, texts))
            self.memo.update(((question, k), float(s)) for k, s in zip(todo, found, strict=True))
        ranked = [(k, self.memo[(question, k)]) for k in keys]
        return sorted(ranked, key=lambda item: -item[1])

    def reranked(self, run: Run, depth: int | None = None) -> list[list[Hit]]:
        return [run.hits(self.scored(run, i, depth)) for i in range(len(run.questions))]
