"""Texts of any length embedded whole: cut into the embedder's windows, each window embedded,
and the window vectors averaged (weighted by their word pieces) and normalised again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from backend.embeddings.minilm import MiniLmEmbedder


@dataclass(frozen=True)
class WholeTextEmbeddings:
    vectors: np.ndarray  # (N, dimensions) float32, each of unit length
    tokens: list[int]  # word pieces of each text; every one of them was embedded


def split_into_windows(pieces: Sequence[int], window: int) -> list[Sequence[int]]:
    """Consecutive, non-overlapping windows; an empty text is one empty window, so that it
    still gets the model's vector for [CLS] [SEP] as sentence-transformers gives it."""
    return [pieces[start : start + window] for start in range(0, len(pieces), window)] or [[]]


def embed_whole(embedder: MiniLmEmbedder, texts: Sequence[str]) -> WholeTextEmbeddings:
    """One vector per text, however long. A text that fits one window gets exactly the vector
    the model gives it; a longer one, the mean of its windows' vectors weighted by their
    lengths (as OpenAI's cookbook does for its own long inputs), re-normalised to unit length.
    """
    pieces = embedder.word_pieces(texts)
    windows: list[Sequence[int]] = []
    owners: list[int] = []
    for owner, text_pieces in enumerate(pieces):
        cut = split_into_windows(text_pieces, embedder.window)
        windows += cut
        owners += [owner] * len(cut)
    window_vectors = embedder.embed_windows(windows)  # (W, dimensions)
    weights = np.array([max(len(w), 1) for w in windows], dtype=np.float32)
    sums = np.zeros((len(texts), embedder.dimensions), dtype=np.float32)
    np.add.at(sums, owners, window_vectors * weights[:, None])
    # Normalising the weighted sum gives the same direction as normalising the weighted mean.
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    vectors = (sums / np.clip(norms, 1e-12, None)).astype(np.float32)
    return WholeTextEmbeddings(vectors, [len(p) for p in pieces])
