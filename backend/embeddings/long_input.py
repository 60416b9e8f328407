"""Texts of any length embedded whole: cut into the embedder's windows, each window embedded,
and the window vectors averaged (weighted by their word pieces) and normalised again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from backend.errors import InvalidRequestError

if TYPE_CHECKING:
    from backend.embeddings.minilm import MiniLmEmbedder


# Bounds on one request's work: OpenAI's own limit per text, and a total that still embeds in
# well under a minute on two cores (256 windows).
MAX_TEXT_PIECES = 8192
MAX_REQUEST_PIECES = 65536


class InputTooLongError(InvalidRequestError):
    code = "input_too_long"


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
    check_length(pieces)
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


def check_length(pieces: Sequence[Sequence[int]]) -> None:
    """Refuse, before any is embedded, a text or a request too long to embed in bounded time."""
    for index, text_pieces in enumerate(pieces):
        if len(text_pieces) > MAX_TEXT_PIECES:
            raise InputTooLongError(
                f"input[{index}] has {len(text_pieces)} word pieces; at most {MAX_TEXT_PIECES} "
                "are embedded per text: split it",
                param=f"input[{index}]" if len(pieces) > 1 else "input",
            )
    if (total := sum(map(len, pieces))) > MAX_REQUEST_PIECES:
        raise InputTooLongError(
            f"input has {total} word pieces in all; at most {MAX_REQUEST_PIECES} are embedded per "
            "request: send fewer texts at a time",
            param="input",
        )
