"""Synthetic corpora, tiny decoders and fine-tuning set-ups shared by the training tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer
from torch import nn

from training.data import TokenSplits, read_texts, split_heldout, tokenize_documents
from training.finetune import BaseModel, FinetuneConfig, add_lora
from training.models.config import ModelConfig
from training.pretrain import TrainConfig
from training.testing import build_tiny_gguf, tiny_config
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
    """training.testing's tiny decoder, tied and with the short context these tests train on."""
    config = tiny_config(vocab_size, moe=moe, context_length=64, tie_embeddings=True)
    return config.replace(**changes)


def tiny_finetune_config(**changes: object) -> FinetuneConfig:
    config = FinetuneConfig(
        rank=4,
        alpha=8.0,
        steps=24,
        batch_size=8,
        learning_rate=2e-2,
        warmup_steps=2,
        max_tokens=64,
        eval_every=12,
        eval_examples=16,
        checkpoint_every=4,
        seed=3,
    )
    return config.replace(**changes)


def random_lora(base: BaseModel, std: float, seed: int = 0) -> nn.Module:
    """`base` with LoRA layers whose B matrices are drawn at `std`, q and k included: a large,
    known change to the logits (a fresh adapter's B is zero and changes nothing)."""
    model = add_lora(base.model, tiny_finetune_config())
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, std)
    return model


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
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny chat GGUF that fine-tuning can visibly change."""
    return build_tiny_gguf(tmp_path_factory.mktemp("base") / "tiny.gguf", seed=5, output_scale=25)


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


@pytest.fixture(scope="session")
def exported(trained_run: TrainedRun) -> Path:
    """The trained run as the f16 GGUF llama.cpp loads, for the export and quantization tests."""
    from training.export import export_run

    path = trained_run.folder / "model-f16.gguf"
    export_run(trained_run.folder, path)
    return path
