"""Synthetic corpora, a tokenizer and tiny trained decoders shared by the training tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from training.data import TokenSplits, read_texts, split_heldout, tokenize_documents
from training.models.config import ModelConfig
from training.pretrain import TrainConfig
from training.tokenizer import train_bpe

TINY_VOCAB = 320  # the shared tokenizer's size, so tests can build models without it

_SUBJECTS = ("the cat", "a dog", "the hearth", "my friend", "the model", "a small bird")
_VERBS = ("sees", "likes", "warms", "reads", "follows", "finds")
_OBJECTS = ("the fire", "a book", "the garden", "some bread", "the river", "a letter")


def synthetic_text(seed: int, sentences: int) -> str:
    """Sentences from a tiny grammar: varied enough to tokenize, regular enough to learn."""
    rng = random.Random(seed)
    lines = [
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}."
        for _ in range(sentences)
    ]
    return "\n".join(lines) + "\n"


def write_corpus(folder: Path, files: int = 4, sentences: int = 150) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        (folder / f"doc{index}.txt").write_text(synthetic_text(index, sentences), encoding="utf-8")
    return folder


def one_line_error(capsys: pytest.CaptureFixture) -> str:
    """What the CLI printed for a user error, checked to be the single `error:` line promised."""
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def tiny_model_config(vocab_size: int, *, moe: bool = False, **changes: object) -> ModelConfig:
    config = ModelConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        context_length=64,
        num_experts=4 if moe else 0,
        experts_per_token=2 if moe else 0,
    )
    return config.replace(**changes)


def tiny_train_config(**changes: object) -> TrainConfig:
    config = TrainConfig(
        max_steps=30,
        batch_size=8,
        seq_len=16,
        learning_rate=1e-2,
        warmup_steps=3,
        eval_every=10,
        eval_batches=2,
        checkpoint_every=10,
        heldout_fraction=0.1,
        seed=7,
        device="cpu",
    )
    return config.replace(**changes)


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def tokenizer(corpus_dir: Path) -> Tokenizer:
    return train_bpe(read_texts([corpus_dir]), vocab_size=TINY_VOCAB)


@pytest.fixture(scope="session")
def splits(corpus_dir: Path, tokenizer: Tokenizer) -> TokenSplits:
    return split_heldout(tokenize_documents(read_texts([corpus_dir]), tokenizer), 0.1)


@dataclass(frozen=True)
class TrainedRun:
    folder: Path
    model_config: ModelConfig
    history: object


@pytest.fixture(scope="session", params=["dense", "moe"])
def trained_run(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tokenizer: Tokenizer,
    splits: TokenSplits,
) -> TrainedRun:
    """A tiny decoder trained for 30 steps, its run folder holding the tokenizer like the CLI's."""
    from training.export import TOKENIZER_NAME
    from training.pretrain import pretrain

    folder = tmp_path_factory.mktemp(f"run-{request.param}")
    config = tiny_model_config(tokenizer.get_vocab_size(), moe=request.param == "moe")
    history = pretrain(folder, config, tiny_train_config(), splits, show_progress=False)
    tokenizer.save(str(folder / TOKENIZER_NAME))
    return TrainedRun(folder, config, history)
