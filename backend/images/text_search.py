"""Image search by the words in pictures: BM25 over their read text, fused with CLIP's ranking
by reciprocal rank, and CLIP's cut-off. The ranking code is the documents' own
(`backend/documents/retrieval.py`): the same idea as documents' hybrid search."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from backend.documents.retrieval import Bm25Index, reciprocal_rank_fusion
from backend.wire import ImageHit

if TYPE_CHECKING:
    from backend.documents.vector_store import VectorCollection

TEXT = "text"  # the metadata field that holds a picture's read text
HAS_TEXT = "has_text"  # "yes" or "no": search fetches only the pictures with text
# A picture whose text holds the query's words counts twice a CLIP rank: the best text
# matches come first however CLIP ranks them (weight 2 against 1 at every RRF k).
TEXT_WEIGHT = 2.0
# CLIP's cut-off, in the model's own logits (similarity times its logit scale): a picture
# e^4 (about 55) times less likely than the best match to be the one described is left out.
# Logits, not raw similarity, so the cut-off means the same for models of every scale.
CUTOFF_LOGITS = 4.0


@dataclass(frozen=True)
class Candidate:
    """A picture found for a query, with its CLIP similarity to it."""

    id: str
    path: str
    similarity: float
    text: str | None = None  # its read text, when the query's words are in it

    def as_hit(self) -> ImageHit:
        return ImageHit(path=self.path, score=round(self.similarity, 6), text=self.text)


@dataclass(frozen=True)
class _TextCorpus:
    revision: int
    bm25: Bm25Index
    paths: list[str]
    texts: list[str]
    vectors: np.ndarray  # (N, D), one row per picture with text, normalised


class ReadTextIndex:
    """BM25 over the read text of one collection's pictures, built on the first search after
    the collection changed (`changed`)."""

    def __init__(self, collection: VectorCollection) -> None:
        self._collection = collection
        self._lock = threading.Lock()
        self._revision = 0
        self._corpus: _TextCorpus | None = None

    def changed(self) -> None:
        with self._lock:
            self._revision += 1

    def _current(self) -> _TextCorpus:
        with self._lock:
            if self._corpus is None or self._corpus.revision != self._revision:
                self._corpus = self._build(self._revision)
            return self._corpus

    def _build(self, revision: int) -> _TextCorpus:
        found = self._collection.get(where={HAS_TEXT: "yes"}, with_vectors=True)
        texts = [stored.metadata[TEXT] for stored in found]
        vectors = np.array([stored.vector for stored in found], dtype=np.float32)
        if len(found):
            vectors /= np.linalg.norm(vectors, axis=-1, keepdims=True)
        return _TextCorpus(
            revision,
            Bm25Index.build(revision, [stored.id for stored in found], texts),
            [stored.metadata["path"] for stored in found],
            texts,
            vectors,
        )

    def search(self, query: str, vector: np.ndarray, k: int) -> list[Candidate]:
        """The `k` pictures whose read text best matches `query` (BM25), best first, with
        their CLIP similarity to the query's `vector`."""
        corpus = self._current()
        place = {picture: row for row, picture in enumerate(corpus.bm25.ids)}
        unit = vector / np.linalg.norm(vector)
        return [
            Candidate(
                picture,
                corpus.paths[place[picture]],
                float(corpus.vectors[place[picture]] @ unit),
                corpus.texts[place[picture]],
            )
            for picture, _ in corpus.bm25.search(query, k)
        ]


def above_cutoff(nearest: list[Candidate], logit_scale: float) -> list[Candidate]:
    """CLIP's hits within CUTOFF_LOGITS of the best one."""
    if not nearest:
        return []
    best = max(candidate.similarity for candidate in nearest)
    margin = CUTOFF_LOGITS / max(logit_scale, math.ulp(1.0))
    return [candidate for candidate in nearest if best - candidate.similarity <= margin]


def ranked_hits(
    nearest: list[Candidate], matches: list[Candidate], k: int, logit_scale: float | None
) -> list[ImageHit]:
    """The best `k` of CLIP's `nearest` pictures (cut off unless `logit_scale` is None) and
    the pictures whose text `matches`, fused by reciprocal rank, text first on a tie."""
    kept = nearest if logit_scale is None else above_cutoff(nearest, logit_scale)
    found = {candidate.id: candidate for candidate in kept} | {m.id: m for m in matches}
    fused = reciprocal_rank_fusion(
        [[m.id for m in matches], [c.id for c in kept]], weights=[TEXT_WEIGHT, 1.0]
    )
    return [found[picture].as_hit() for picture, _ in fused[:k]]
