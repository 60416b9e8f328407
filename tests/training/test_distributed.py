"""Two gloo ranks (DDP or FSDP) get the gradients and losses of one process on the whole batch.

The model is dense on purpose: Mixtral's load-balancing loss is computed on each rank's own
tokens, so MoE gradients under DDP rightly differ a little from one process on the whole batch.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from tests.training.conftest import TINY_VOCAB, tiny_model_config, tiny_train_config
from training.data import BatchSchedule, TokenSplits
from training.distributed import init_distributed, wrap_model
from training.models.decoder import build_model, language_model_loss
from training.pretrain import pretrain

WORLD_SIZE = 2
RANKS_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gradients(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {name: p.grad.detach().clone().numpy() for name, p in model.named_parameters()}


def _rank_main(rank: int, ports: tuple[int, int], splits: TokenSplits, out: Path) -> None:
    """One torchrun-like rank: gradients of its half batch, then short DDP and FSDP runs."""
    os.environ |= {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(ports[0]),
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": str(WORLD_SIZE),
    }
    torch.set_num_threads(1)
    context = init_distributed("cpu")
    train = tiny_train_config()
    torch.manual_seed(train.seed)
    model = wrap_model(build_model(tiny_model_config(TINY_VOCAB)), context, "ddp")
    schedule = BatchSchedule(splits.train, train.seq_len, train.batch_size, train.seed)
    x, y = schedule.batch(0, rank, WORLD_SIZE)
    language_model_loss(model, x, y, tiny_model_config(TINY_VOCAB)).total.backward()
    if rank == 0:
        np.savez(out / "ddp_grads.npz", **_gradients(model.module))
    for strategy, port in zip(("ddp", "fsdp"), ports, strict=True):
        # A fresh port per process group: a new group must not find the last one's store.
        os.environ["MASTER_PORT"] = str(port)
        history = pretrain(
            out / f"{strategy}-run",
            tiny_model_config(TINY_VOCAB),
            train.replace(max_steps=4, parallel=strategy),
            splits,
            show_progress=False,
        )
        if rank == 0:
            np.save(out / f"{strategy}_losses.npy", np.array(history.train_loss))


@pytest.fixture(scope="module")
def two_rank_results(splits: TokenSplits, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    ranks = mp.start_processes(
        _rank_main, args=((_free_port(), _free_port()), splits, out), nprocs=WORLD_SIZE, join=False
    )
    deadline = time.monotonic() + RANKS_TIMEOUT_S
    while not ranks.join(timeout=1.0):  # raises if a rank fails
        if time.monotonic() > deadline:
            for process in ranks.processes:
                process.kill()
            pytest.fail(f"the DDP ranks did not finish within {RANKS_TIMEOUT_S} s")
    return out


def test_ddp_averaged_gradients_equal_one_process_on_the_whole_batch(
    splits: TokenSplits, two_rank_results: Path
) -> None:
    train = tiny_train_config()
    torch.manual_seed(train.seed)
    model = build_model(tiny_model_config(TINY_VOCAB))
    x, y = BatchSchedule(splits.train, train.seq_len, train.batch_size, train.seed).batch(0)
    language_model_loss(model, x, y, tiny_model_config(TINY_VOCAB)).total.backward()
    expected = _gradients(model)
    averaged = np.load(two_rank_results / "ddp_grads.npz")
    assert set(averaged.files) == set(expected)
    for name, grad in expected.items():
        np.testing.assert_allclose(averaged[name], grad, rtol=1e-4, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_rank_training_follows_the_single_process_losses(
    splits: TokenSplits, two_rank_results: Path, tmp_path: Path, strategy: str
) -> None:
    train = tiny_train_config(max_steps=4)
    single = pretrain(
        tmp_path / "single", tiny_model_config(TINY_VOCAB), train, splits, show_progress=False
    )
    distributed = np.load(two_rank_results / f"{strategy}_losses.npy")
    np.testing.assert_allclose(distributed, single.train_loss, rtol=1e-4)
    assert (two_rank_results / f"{strategy}-run" / "checkpoint.pt").is_file()
