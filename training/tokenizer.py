"""Byte-level BPE tokenizers trained with `tokenizers`, split the GPT-2 way llama.cpp knows."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from training.errors import TrainingError

END_OF_TEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = (END_OF_TEXT, IM_START, IM_END)
# Every byte needs a token of its own before BPE can merge anything.
MIN_VOCAB_SIZE = len(pre_tokenizers.ByteLevel.alphabet()) + len(SPECIAL_TOKENS)


class EmptyCorpusError(TrainingError, ValueError):
    """The texts to train a tokenizer on hold no text at all."""


class VocabularyTooSmallError(TrainingError, ValueError):
    """The requested vocabulary cannot hold the byte alphabet and the special tokens."""


class TokenizerFileError(TrainingError, ValueError):
    """The path cannot be read as, or written as, a `tokenizers` JSON file."""


def _non_blank(texts: Iterable[str]) -> Iterator[str]:
    """`texts` without blank ones, checked to hold at least one, still read lazily."""
    remaining = (text for text in texts if text.strip())
    first = next(remaining, None)
    if first is None:
        raise EmptyCorpusError(
            "the corpus holds no text; pass text files, or folders with .txt, .md or .rst files"
        )
    return chain([first], remaining)


def train_bpe(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    """Train a byte-level BPE whose first ids are the ChatML special tokens."""
    if vocab_size < MIN_VOCAB_SIZE:
        raise VocabularyTooSmallError(
            f"a vocabulary of {vocab_size} tokens cannot hold the 256 byte tokens and "
            f"{len(SPECIAL_TOKENS)} special tokens; use a vocabulary size of at least "
            f"{MIN_VOCAB_SIZE}"
        )
    texts = _non_blank(texts)
    tokenizer = Tokenizer(models.BPE())
    # use_regex=True is GPT-2's split pattern, which llama.cpp calls pre-tokenizer "gpt-2".
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def check_tokenizer_target(path: Path) -> None:
    """Refuse a folder as the file to write, before any time is spent training."""
    if path.is_dir():
        raise TokenizerFileError(
            f"{path} is a folder; name the file to write, e.g. {path / 'tokenizer.json'}"
        )


def save_tokenizer(tokenizer: Tokenizer, path: Path) -> Path:
    """Write `tokenizer.json`, the file both training and the GGUF exporter read."""
    check_tokenizer_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")  # a crash mid-write leaves the old file
    tokenizer.save(str(partial))
    os.replace(partial, path)
    return path


def load_tokenizer(path: Path) -> Tokenizer:
    if not path.is_file():
        raise FileNotFoundError(
            f"no tokenizer at {path}; train one with `python -m training tokenizer`"
        )
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # `tokenizers` raises a bare Exception for any unreadable file
        raise TokenizerFileError(
            f"{path} is not a tokenizer JSON ({exc}); train one with `python -m training tokenizer`"
        ) from exc
