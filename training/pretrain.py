"""Pretraining a decoder from scratch: AdamW, warmup + cosine, clipping, eval, checkpoints.

The same loop runs as one process or as every rank under `torchrun` (DDP or FSDP). A run folder
holds checkpoint.pt, history.json and loss.png; resuming continues with the very losses an
uninterrupted run would have produced.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from tqdm import tqdm

from training.checkpoint import (
    CHECKPOINT_NAME,
    TrainingProgress,
    load_checkpoint,
    save_checkpoint,
)
from training.data import BatchSchedule, TokenSplits, heldout_batches
from training.distributed import (
    DistributedContext,
    close_distributed,
    init_distributed,
    mean_over_ranks,
    wrap_model,
)
from training.history import TrainingHistory
from training.models.config import ModelConfig
from training.models.decoder import build_model, language_model_loss
from training.plots import plot_losses
from training.recipes import read_section, recipe_path


class RunExistsError(FileExistsError):
    """The run folder already holds a checkpoint and resuming was not asked for."""


@dataclass(frozen=True)
class TrainConfig:
    """How to optimise; batch_size counts sequences per step across all ranks."""

    max_steps: int = 1000
    batch_size: int = 16
    seq_len: int = 256
    learning_rate: float = 3e-3
    min_lr_ratio: float = 0.1  # the cosine decays to this fraction of learning_rate
    warmup_steps: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_batches: int = 8
    checkpoint_every: int = 100
    heldout_fraction: float = 0.05
    seed: int = 1337
    parallel: str = "ddp"  # how ranks share the model under torchrun: "ddp" or "fsdp"
    device: str = "auto"  # "auto" uses a GPU when there is one

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> TrainConfig:
        """The `train` section of models/recipes/<name>.yaml."""
        return cls.from_file(recipe_path(name), **overrides)

    @classmethod
    def from_file(cls, path: Path, **overrides: Any) -> TrainConfig:
        return cls(**(read_section(path, "train") | overrides))

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def warmup_cosine(config: TrainConfig) -> Callable[[int], float]:
    """Learning-rate multiplier: linear warmup, then cosine decay to min_lr_ratio."""

    def multiplier(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        decay_steps = max(1, config.max_steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine

    return multiplier


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    # Decay matrices only: shrinking norm gains towards zero only hurts (nanoGPT's rule).
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=config.learning_rate, betas=(config.beta1, config.beta2), foreach=False
    )


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, torch.Tensor],
    model_config: ModelConfig,
    grad_clip: float,
) -> torch.Tensor:
    """One optimiser step on this rank's rows; returns the language-model loss."""
    model.train()
    loss = language_model_loss(model, *batch, model_config)
    optimizer.zero_grad(set_to_none=True)
    loss.total.backward()  # DDP/FSDP average the gradients across ranks here
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.language.detach()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    model_config: ModelConfig,
    device: torch.device,
) -> float:
    """Mean next-token loss on the held-out batches."""
    model.eval()
    losses = [
        language_model_loss(model, x.to(device), y.to(device), model_config).language
        for x, y in batches
    ]
    return float(torch.stack(losses).mean())


@dataclass
class _Run:
    """The live objects of one run, so helpers take one argument instead of six."""

    context: DistributedContext
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: LambdaLR
    model_config: ModelConfig
    out_dir: Path

    def checkpoint(self, progress: TrainingProgress) -> None:
        save_checkpoint(
            self.out_dir / CHECKPOINT_NAME,
            self.model,
            self.optimizer,
            self.scheduler,
            progress,
            self.model_config,
            is_main=self.context.is_main,
        )


def _start_run(
    out_dir: Path, model_config: ModelConfig, train_config: TrainConfig, resume: bool
) -> tuple[_Run, TrainingProgress]:
    checkpoint = out_dir / CHECKPOINT_NAME
    if checkpoint.exists() and not resume:
        raise RunExistsError(f"{out_dir} already holds a run; resume it or choose another folder")
    context = init_distributed(train_config.device)
    torch.manual_seed(train_config.seed)
    model = wrap_model(build_model(model_config).to(context.device), context, train_config.parallel)
    optimizer = build_optimizer(model, train_config)
    scheduler = LambdaLR(optimizer, warmup_cosine(train_config))
    run = _Run(context, model, optimizer, scheduler, model_config, out_dir)
    progress = TrainingProgress(step=0, history=TrainingHistory())
    if resume:
        progress = load_checkpoint(checkpoint, model, optimizer, scheduler)
    return run, progress


def _print_summary(history: TrainingHistory) -> None:
    if history.eval_loss:
        print(f"step {history.eval_steps[-1]}: held-out loss {history.eval_loss[-1]:.4f}")


def _is_due(step: int, every: int, last: int) -> bool:
    return step % every == 0 or step == last


def pretrain(
    out_dir: Path,
    model_config: ModelConfig,
    train_config: TrainConfig,
    splits: TokenSplits,
    *,
    resume: bool = False,
    until_step: int | None = None,
    show_progress: bool = True,
) -> TrainingHistory:
    """Train to max_steps (or stop early at until_step, checkpointed, ready to resume)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run, progress = _start_run(out_dir, model_config, train_config, resume)
    tc, context = train_config, run.context
    schedule = BatchSchedule(splits.train, tc.seq_len, tc.batch_size, tc.seed)
    eval_set = heldout_batches(splits.heldout, tc.seq_len, tc.batch_size, tc.eval_batches)
    stop = min(tc.max_steps, until_step or tc.max_steps)
    bar = tqdm(
        range(progress.step, stop),
        initial=progress.step,
        total=stop,
        disable=not (show_progress and context.is_main),
    )
    for step_index in bar:
        x, y = schedule.batch(step_index, context.rank, context.world_size)
        batch = (x.to(context.device), y.to(context.device))
        loss = train_step(run.model, run.optimizer, batch, model_config, tc.grad_clip)
        run.scheduler.step()
        progress.step = step_index + 1
        progress.history.record_train(progress.step, mean_over_ranks(loss, context))
        bar.set_postfix(loss=f"{progress.history.train_loss[-1]:.3f}")
        if _is_due(progress.step, tc.eval_every, tc.max_steps):
            eval_loss = evaluate(run.model, eval_set, model_config, context.device)
            progress.history.record_eval(progress.step, eval_loss)
        if _is_due(progress.step, tc.checkpoint_every, stop):
            run.checkpoint(progress)
    bar.close()
    if context.is_main:
        progress.history.write_json(out_dir / "history.json")
        plot_losses(progress.history, out_dir / "loss.png")
        _print_summary(progress.history)
    close_distributed()
    return progress.history
