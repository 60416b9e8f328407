"""Pretraining learns, resumes exactly, and reads its settings from the shipped recipes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.training.conftest import TINY_VOCAB, TrainedRun, tiny_model_config, tiny_train_config
from training.data import BatchSchedule, CorpusTooSmallError, TokenSplits, split_heldout
from training.models.config import ModelConfig
from training.pretrain import RunExistsError, TrainConfig, pretrain, warmup_cosine
from training.recipes import UnknownRecipeError, recipe_names


def test_training_lowers_train_and_heldout_loss(trained_run: TrainedRun) -> None:
    history = trained_run.history
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.eval_loss[-1] < history.eval_loss[0]
    assert (trained_run.folder / "loss.png").stat().st_size > 1000
    assert (trained_run.folder / "history.json").is_file()


@pytest.mark.parametrize("moe", [False, True], ids=["dense", "moe"])
def test_resumed_run_matches_an_uninterrupted_one(
    splits: TokenSplits, tmp_path: Path, moe: bool
) -> None:
    config = tiny_model_config(TINY_VOCAB, moe=moe)
    # The split run stops, checkpointed, at step 5; a second call resumes from that checkpoint.
    train = tiny_train_config(max_steps=8, checkpoint_every=100, eval_every=4)
    whole = pretrain(tmp_path / "whole", config, train, splits, show_progress=False)
    pretrain(tmp_path / "split", config, train, splits, until_step=5, show_progress=False)
    resumed = pretrain(tmp_path / "split", config, train, splits, resume=True, show_progress=False)
    assert resumed.train_steps == whole.train_steps
    np.testing.assert_allclose(resumed.train_loss, whole.train_loss, rtol=0, atol=1e-6)
    np.testing.assert_allclose(resumed.eval_loss, whole.eval_loss, rtol=0, atol=1e-6)


def test_starting_over_an_existing_run_is_refused(trained_run: TrainedRun) -> None:
    with pytest.raises(RunExistsError, match="resume"):
        pretrain(
            trained_run.folder,
            trained_run.model_config,
            tiny_train_config(),
            TokenSplits(np.zeros(100, np.int32), np.zeros(100, np.int32)),
        )


def test_schedule_warms_up_then_decays_to_the_floor() -> None:
    multiplier = warmup_cosine(TrainConfig(max_steps=100, warmup_steps=10, min_lr_ratio=0.1))
    assert multiplier(0) == pytest.approx(0.1)
    assert multiplier(9) == pytest.approx(1.0)
    assert multiplier(55) == pytest.approx(0.55)
    assert multiplier(100) == pytest.approx(0.1)


def test_ranks_split_each_global_batch_without_overlap() -> None:
    schedule = BatchSchedule(np.arange(1000, dtype=np.int32), seq_len=10, batch_size=8, seed=0)
    whole_x, whole_y = schedule.batch(3)
    halves = [schedule.batch(3, rank, world_size=2) for rank in (0, 1)]
    assert torch.equal(torch.cat([x for x, _ in halves]), whole_x)
    assert torch.equal(whole_y[:, :-1], whole_x[:, 1:])  # targets are inputs shifted by one


def test_heldout_text_comes_from_every_part_of_the_corpus() -> None:
    tokens = np.arange(1000, dtype=np.int32)
    splits = split_heldout(tokens, 0.1, block_tokens=500)
    assert splits.heldout.tolist() == [*range(450, 500), *range(950, 1000)]
    assert len(splits.train) == 900 and not set(splits.train) & set(splits.heldout)


def test_a_corpus_smaller_than_one_batch_is_explained() -> None:
    with pytest.raises(CorpusTooSmallError, match="fewer than one batch"):
        BatchSchedule(np.arange(50, dtype=np.int32), seq_len=16, batch_size=8, seed=0)


@pytest.mark.parametrize("name", recipe_names())
def test_every_shipped_recipe_builds_a_model_and_training_config(name: str) -> None:
    model = ModelConfig.from_name(name, vocab_size=4096)
    train = TrainConfig.from_name(name)
    assert model.hidden_size % 256 == 0, "shipped models should allow Q4_K_M"
    assert train.warmup_steps < train.max_steps


def test_recipes_include_the_moe_sibling() -> None:
    assert {"hearth-tiny", "hearth-tiny-moe"} <= set(recipe_names())
    assert ModelConfig.from_name("hearth-tiny-moe", vocab_size=4096).is_moe
    assert not ModelConfig.from_name("hearth-tiny", vocab_size=4096).is_moe


def test_unknown_recipe_names_the_known_ones() -> None:
    with pytest.raises(UnknownRecipeError, match="hearth-tiny-moe"):
        ModelConfig.from_name("no-such-model", vocab_size=10)
