"""The cross-encoder (hearth-rerank): hybrid search's top fused candidates reordered by how well
each answers the query, and its 0-1 relevance for the "nothing relevant found" decision.

This module is the only owner of the reranker's onnxruntime session and tokenizer (no torch).
The depth, weight and cut-off were chosen on the dev set (bench/rag_eval.py --sweep rerank),
never on the evaluation sets; figures in bench/README.md.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backend.embeddings.minilm import locate_files, sha256_of
from backend.errors import HearthError
from backend.paths import repo_models_dir

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from backend.documents.retrieval import Hit

LISTING = "hearth-rerank/files.json"
RERANK_DEPTH = 30  # fused candidates reordered: the best of 10, 20, 30 and 40 on dev
# The order is fused score (0-1, dense and BM25 half each) plus this times relevance (0-1).
RERANK_WEIGHT = 1.0
# A passage answers when the mean of its relevance and its cosine similarity reaches this: on
# dev, the highest cut-off that keeps 90% of answers (it refuses 24% of the questions whose
# answer was taken out, against 12% for relevance alone and 22% for cosine alone).
RELEVANCE_CUTOFF = 0.4


class RerankerUnavailableError(HearthError):
    """The reranker's model is not built, or does not match its recorded sha256."""

    code = "reranker_unavailable"


@dataclass(frozen=True)
class RerankerConfig:
    """How the reranker runs. Longer pairs are cut, the passage first (longest-first)."""

    max_tokens: int = 96  # what hearth-rerank was trained at (its files.json says so)
    batch_size: int = 32  # at least RERANK_DEPTH: one search, one batch
    threads: int = max(1, os.cpu_count() or 1)


def locate_model(listing: Path | None = None) -> tuple[Path, dict[str, object]]:
    """The model file, checked against files.json, and the listing itself."""
    path = listing or repo_models_dir() / LISTING
    if not path.is_file():
        raise RerankerUnavailableError(
            f"No reranker model: {path} is missing; build one with python -m training.rerank."
        )
    entries = json.loads(path.read_text())
    model = path.parent / entries["files"]["model"]["path"]
    if not model.is_file():
        raise RerankerUnavailableError(f"The reranker's model {model} is missing.")
    if sha256_of(model) != entries["files"]["model"]["sha256"]:
        raise RerankerUnavailableError(
            f"{model} does not match its recorded sha256; restore it from Hearth's repository."
        )
    return model, entries


def relevance(logits: np.ndarray) -> np.ndarray:
    """The model's logits as 0-1 relevance (it was trained with a logistic term, so 0.5 is
    its own even odds)."""
    return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)


class Reranker:
    """(query, passage) pairs in, one relevance logit each; higher means more relevant."""

    def __init__(self, model: Path, tokenizer: Path, config: RerankerConfig | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.config = config or RerankerConfig()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.config.threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer: Tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(self.config.max_tokens, strategy="longest_first")
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer_lock = threading.Lock()  # the tokenizer is not thread-safe

    @classmethod
    def load(cls, threads: int, listing_path: Path | None = None) -> Reranker:
        """The installed hearth-rerank (or the one `listing_path` lists), cutting pairs at the
        length it was trained at."""
        model, listing = locate_model(listing_path)
        config = RerankerConfig(max_tokens=int(str(listing["max_tokens"])), threads=threads)
        return cls(model, locate_files()["tokenizer"], config)

    def scores(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """(N,) float32 logits of `query` against each text, in the order given.

        int8 activations are quantized per batch, so a text's logit moves a little with the
        others in its batch (relevance by up to 0.05): search scores its candidates in one
        batch, and bench/rag_eval.py scores them as search does. One pair at a time would
        not move, but took 1.8 times as long (bench/README.md)."""
        result = np.zeros(len(texts), dtype=np.float32)
        # Similar lengths share a batch, so that padding stays small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.config.batch_size):
            rows = order[start : start + self.config.batch_size]
            result[rows] = self._logits([(query, texts[i]) for i in rows])
        return result

    def _logits(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch(pairs)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        return np.asarray(self._session.run(None, feeds)[0])[:, 0]  # (B,)


def passage_text(hit: Hit) -> str:
    """What the reranker reads of a hit: its heading path, then its text."""
    return f"{' > '.join(hit.headings)}\n{hit.text}" if hit.headings else hit.text


def rerank(reranker: Reranker, query: str, hits: Sequence[Hit]) -> list[Hit]:
    """`hits` (fused, best first) with the top RERANK_DEPTH reordered by fused score plus
    RERANK_WEIGHT times relevance (each keeps its relevance and takes the sum as its score),
    then the rest in fused order."""
    top = hits[:RERANK_DEPTH]
    found = relevance(reranker.scores(query, [passage_text(h) for h in top]))
    reordered = [
        h.model_copy(update={"relevance": float(r), "score": h.score + RERANK_WEIGHT * float(r)})
        for h, r in zip(top, found, strict=True)
    ]
    # sorted is stable: ties keep the fused order
    return sorted(reordered, key=lambda h: -h.score) + list(hits[RERANK_DEPTH:])


def answers_question(hit: Hit) -> bool:
    """The "nothing relevant found" decision for one reranked hit: the mean of its relevance
    and its cosine similarity, or relevance alone while the chunk waits for its vector."""
    judged = hit.relevance or 0.0
    if hit.similarity is not None:
        judged = (judged + hit.similarity) / 2
    return judged >= RELEVANCE_CUTOFF
