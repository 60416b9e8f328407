"""Running one training script on one process or many under `torchrun`, with DDP or FSDP.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them the run is a single process.
Ranks talk over NCCL when every rank has a GPU and over gloo on CPUs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def is_main_process() -> bool:
    """Rank 0 under torchrun, or a lone process; usable before the process group exists."""
    return os.environ.get("RANK", "0") == "0"


def _pick_device(local_rank: int, device: str) -> torch.device:
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the process group torchrun describes, or describe a lone process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    chosen = _pick_device(int(os.environ.get("LOCAL_RANK", "0")), device)
    if world_size > 1 and not dist.is_initialized():
        if chosen.type == "cuda":
            torch.cuda.set_device(chosen)
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return DistributedContext(rank=rank, world_size=world_size, device=chosen)


def close_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _wrap_ddp(model: nn.Module, context: DistributedContext) -> nn.Module:
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def _wrap_fsdp(model: nn.Module, context: DistributedContext) -> nn.Module:
    from torch.distributed.fsdp import fully_shard

    # Shard block by block so only one decoder layer is ever gathered in full at a time.
    for layer in model.get_submodule("model.layers").children():
        fully_shard(layer)
    fully_shard(model)
    return model


PARALLEL_STRATEGIES: dict[str, Callable[[nn.Module, DistributedContext], nn.Module]] = {
    "ddp": _wrap_ddp,
    "fsdp": _wrap_fsdp,
}


def wrap_model(model: nn.Module, context: DistributedContext, strategy: str) -> nn.Module:
    """DDP replicates the model on every rank; FSDP shards it for models larger than a device."""
    if strategy not in PARALLEL_STRATEGIES:
        known = ", ".join(PARALLEL_STRATEGIES)
        raise ValueError(f"unknown parallel strategy {strategy!r}; use one of {known}")
    if not context.is_distributed:
        return model
    return PARALLEL_STRATEGIES[strategy](model, context)


def mean_over_ranks(value: torch.Tensor, context: DistributedContext) -> float:
    """The average of a scalar across ranks (gloo has no AVG, so sum and divide)."""
    if not context.is_distributed:
        return float(value)
    total = value.detach().clone().float()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return float(total) / context.world_size
