"""Saving and restoring everything a run needs to continue exactly where it stopped.

Weights and optimizer state go through torch.distributed.checkpoint's full state dicts, which
read the same from a plain, DDP or FSDP model, so a run can even resume under another layout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_state_dict,
    set_state_dict,
)
from torch.optim.lr_scheduler import LRScheduler

from training.history import TrainingHistory
from training.models.config import ModelConfig

CHECKPOINT_NAME = "checkpoint.pt"
_GATHER_TO_CPU = StateDictOptions(full_state_dict=True, cpu_offload=True)


class MissingCheckpointError(FileNotFoundError):
    """A run folder without a checkpoint to resume or export from."""


@dataclass
class TrainingProgress:
    step: int  # optimizer steps done; also the position in the batch schedule
    history: TrainingHistory


def _rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler,
    progress: TrainingProgress,
    model_config: ModelConfig,
    *,
    is_main: bool,
) -> None:
    """Every rank must call this (gathering is collective); only the main rank writes."""
    model_state, optimizer_state = get_state_dict(model, optimizer, options=_GATHER_TO_CPU)
    if not is_main:
        return
    payload = {
        "model": model_state,
        "optimizer": optimizer_state,
        "scheduler": scheduler.state_dict(),
        "step": progress.step,
        "history": progress.history.to_dict(),
        "rng": _rng_states(),
        "model_config": model_config.to_dict(),
    }
    # Write beside and rename, so a run killed mid-save keeps its previous checkpoint.
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def load_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler,
) -> TrainingProgress:
    if not path.is_file():
        raise MissingCheckpointError(f"no checkpoint to resume at {path}")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    set_state_dict(
        model,
        optimizer,
        model_state_dict=payload["model"],
        optim_state_dict=payload["optimizer"],
        options=StateDictOptions(full_state_dict=True),
    )
    scheduler.load_state_dict(payload["scheduler"])
    _restore_rng(payload["rng"])
    return TrainingProgress(payload["step"], TrainingHistory.from_dict(payload["history"]))


def read_trained_model(path: Path) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """The config and full weights stored in a checkpoint, for export."""
    if not path.is_file():
        raise MissingCheckpointError(
            f"no checkpoint at {path}; train one with `python -m training pretrain`"
        )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    return ModelConfig(**payload["model_config"]), payload["model"]
