"""Token streams for pretraining: reading a corpus, the held-out split, and batch order.

Batch order is a pure function of (seed, step), so a resumed run only needs the step number to
see exactly the batches an uninterrupted run would have seen, and each DDP rank takes its own
rows of the same global batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from training.errors import TrainingError
from training.tokenizer import END_OF_TEXT, TokenizerFileError

TEXT_SUFFIXES = (".txt", ".md", ".rst")
MANIFEST_NAME = "manifest.json"
HELDOUT_BLOCK_TOKENS = 100_000


class CorpusTooSmallError(TrainingError, ValueError):
    """The corpus holds fewer windows than one batch needs."""


def find_text_files(paths: Sequence[Path]) -> list[Path]:
    """Text files named directly, or found recursively under named folders, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in TEXT_SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist")
    return found


def read_texts(paths: Sequence[Path]) -> Iterator[str]:
    for path in find_text_files(paths):
        yield path.read_text(encoding="utf-8", errors="replace")


def _separator_id(tokenizer: Tokenizer) -> int:
    separator = tokenizer.token_to_id(END_OF_TEXT)
    if separator is None:
        raise TokenizerFileError(
            f"the tokenizer lacks {END_OF_TEXT}; train one with `python -m training tokenizer`"
        )
    return separator


def tokenize_documents(texts: Iterator[str] | Sequence[str], tokenizer: Tokenizer) -> np.ndarray:
    """One flat int32 stream, documents separated by the end-of-text token."""
    separator = _separator_id(tokenizer)
    ids: list[int] = []
    for text in texts:
        ids += tokenizer.encode(text).ids
        ids.append(separator)
    return np.asarray(ids, dtype=np.int32)


def decode_documents(tokens: np.ndarray, tokenizer: Tokenizer) -> str:
    """Text of a token stream, documents separated by blank lines instead of end-of-text."""
    separator = _separator_id(tokenizer)
    cuts = np.flatnonzero(tokens == separator)
    documents = np.split(tokens, cuts)
    texts = (tokenizer.decode(doc[doc != separator].tolist()) for doc in documents)
    return "\n\n".join(text for text in texts if text)


def load_token_stream(path: Path, tokenizer: Tokenizer) -> np.ndarray:
    """Tokens from a prepared shard folder (with manifest.json) or from raw text files."""
    manifest = path / MANIFEST_NAME
    if manifest.is_file():
        shards = json.loads(manifest.read_text(encoding="utf-8"))["shards"]
        return np.concatenate([np.load(path / shard["file"]) for shard in shards]).astype(np.int32)
    return tokenize_documents(read_texts([path]), tokenizer)


@dataclass(frozen=True)
class TokenSplits:
    train: np.ndarray
    heldout: np.ndarray


def split_heldout(
    tokens: np.ndarray, heldout_fraction: float, block_tokens: int = HELDOUT_BLOCK_TOKENS
) -> TokenSplits:
    """Hold out the tail of every block, so held-out text samples every source in the stream."""
    train_parts, heldout_parts = [], []
    for start in range(0, len(tokens), block_tokens):
        block = tokens[start : start + block_tokens]
        cut = int(len(block) * (1.0 - heldout_fraction))
        train_parts.append(block[:cut])
        heldout_parts.append(block[cut:])
    return TokenSplits(train=np.concatenate(train_parts), heldout=np.concatenate(heldout_parts))


def _windows(tokens: np.ndarray, seq_len: int) -> torch.Tensor:
    """Non-overlapping windows of seq_len + 1 tokens: inputs plus the shifted targets."""
    count = (len(tokens) - 1) // seq_len
    starts = np.arange(count) * seq_len
    rows = np.stack([tokens[s : s + seq_len + 1] for s in starts]) if count else np.empty((0,))
    return torch.from_numpy(rows.astype(np.int64))  # (count, seq_len + 1)


class BatchSchedule:
    """The global batch of every step: shuffled windows, reshuffled each epoch from the seed."""

    def __init__(self, tokens: np.ndarray, seq_len: int, batch_size: int, seed: int) -> None:
        self.windows = _windows(tokens, seq_len)
        if len(self.windows) < batch_size:
            raise CorpusTooSmallError(
                f"the training split has {len(self.windows)} windows of {seq_len} tokens, "
                f"fewer than one batch of {batch_size}; add text or shrink seq_len/batch_size"
            )
        self.batch_size = batch_size
        self.seed = seed
        self.batches_per_epoch = len(self.windows) // batch_size

    def _order(self, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        return torch.randperm(len(self.windows), generator=generator)

    def batch(
        self, step: int, rank: int = 0, world_size: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's rows of step `step`'s batch, as (inputs, targets), each (B/world, T)."""
        if self.batch_size % world_size:
            raise ValueError(f"batch_size {self.batch_size} does not split over {world_size} ranks")
        epoch, index = divmod(step, self.batches_per_epoch)
        rows = self._order(epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        per_rank = self.batch_size // world_size
        window = self.windows[rows[rank * per_rank : (rank + 1) * per_rank]]  # (B/world, T+1)
        return window[:, :-1], window[:, 1:]


def heldout_batches(
    tokens: np.ndarray, seq_len: int, batch_size: int, max_batches: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A fixed list of held-out batches, the same at every evaluation."""
    windows = _windows(tokens, seq_len)[: batch_size * max_batches]
    if not len(windows):
        raise CorpusTooSmallError(f"the held-out split is shorter than one {seq_len}-token window")
    return [(w[:, :-1], w[:, 1:]) for w in windows.split(batch_size)]
