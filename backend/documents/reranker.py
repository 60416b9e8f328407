"""The cross-encoder runtime (hearth-rerank): the only owner of its onnxruntime session and
tokenizer (no torch). Search does not call it yet: no trained model ships (training/rerank.py
says why); bench/rag_eval.py scores one once it is built."""

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


class RerankerUnavailableError(HearthError):
    """The reranker's model is not built, or does not match its recorded sha256."""

    code = "reranker_unavailable"


@dataclass(frozen=True)
class RerankerConfig:
    """How the reranker runs. Longer pairs are cut, the passage first (longest-first)."""

    max_tokens: int = 256
    batch_size: int = 32
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
    def load(cls, config: RerankerConfig | None = None) -> Reranker:
        model, _ = locate_model()
        return cls(model, locate_files()["tokenizer"], config)

    def scores(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """(N,) float32 logits of `query` against each text, in the order given."""
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
