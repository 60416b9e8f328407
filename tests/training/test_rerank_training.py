"""The reranker's training loop and loss, on a tiny random cross-encoder and synthetic groups."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from training.rerank import (  # noqa: E402
    RerankTrainConfig,
    build_tiny_cross_encoder,
    group_loss,
    train,
)
from training.rerank_data import Group  # noqa: E402


def test_loss_prefers_the_positive_first() -> None:
    right = torch.tensor([3.0, -1.0, -2.0, -3.0, 2.0, 0.0, -1.0, -1.0])
    wrong = torch.tensor([-3.0, 1.0, 2.0, 3.0, -2.0, 0.0, 1.0, 1.0])
    assert group_loss(right, 2, 0.5) < group_loss(wrong, 2, 0.5)


def test_training_steps_lower_the_loss_on_what_it_sees(tmp_path: Path) -> None:
    encoder = build_tiny_cross_encoder(tmp_path)
    groups = [
        Group(f"colour of item {n}", (f"item {n} is red", "the sky", "a tree", "water"), "h")
        for n in range(4)
    ]
    config = RerankTrainConfig(
        groups_per_step=4, steps=16, checkpoint_every=8, threads=1, learning_rate=1e-3
    )
    checkpoints: list[int] = []
    log = train(encoder, groups, config, checkpoints.append)
    assert [entry["step"] for entry in log] == [0, 15]
    assert checkpoints == [8, 16]
    assert log[-1]["loss"] < log[0]["loss"]
