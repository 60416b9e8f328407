"""Training throughput of the shipped decoder recipes: tokens/s and model FLOPs utilisation.

MFU divides the model's training FLOPs (6 per active parameter per token, plus attention) by
a matmul peak measured in this same run on this same device, so it is honest on any machine.
The MoE counts only the experts each token is routed to.

    .venv/bin/python bench/train_speed.py [--recipes hearth-tiny hearth-tiny-moe] [--steps 10]
"""

from __future__ import annotations

import argparse
import time

import torch

from training.models.config import ModelConfig
from training.models.decoder import build_model
from training.pretrain import TrainConfig, build_optimizer, train_step

VOCAB_SIZE = 4096


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_flops(device: torch.device, dtype: torch.dtype, size: int, repeats: int) -> float:
    """FLOP/s of large square matmuls: the ceiling the model's matmuls can reach here."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b  # warm-up: kernels chosen, memory allocated
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def active_parameters(model: torch.nn.Module, config: ModelConfig) -> int:
    """Parameters one token's forward pass multiplies by (routed experts only, for MoE)."""
    total = sum(p.numel() for p in model.parameters())
    if not config.is_moe:
        return total
    experts = sum(p.numel() for name, p in model.named_parameters() if ".experts." in name)
    return total - experts + experts * config.experts_per_token // config.num_experts


def flops_per_token(model: torch.nn.Module, config: ModelConfig, seq_len: int) -> float:
    # PaLM appendix B: 6N for the weights plus 12 * layers * hidden * seq_len for attention.
    attention = 12 * config.num_layers * config.hidden_size * seq_len
    return 6 * active_parameters(model, config) + attention


def measure_training(
    name: str, train: TrainConfig, device: torch.device, steps: int
) -> tuple[float, float]:
    """(tokens/s, FLOPs per token) of `steps` optimiser steps after one warm-up step."""
    config = ModelConfig.from_name(name, vocab_size=VOCAB_SIZE)
    model = build_model(config).to(device)
    optimizer = build_optimizer(model, train)
    tokens = torch.randint(0, VOCAB_SIZE, (train.batch_size, train.seq_len + 1), device=device)
    batch = (tokens[:, :-1], tokens[:, 1:])  # (B, T) each
    train_step(model, optimizer, batch, config, train.grad_clip)
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimizer, batch, config, train.grad_clip)
    _synchronize(device)
    seconds = time.perf_counter() - started
    return steps * train.batch_size * train.seq_len / seconds, flops_per_token(
        model, config, train.seq_len
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["hearth-tiny", "hearth-tiny-moe"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, help="default: the recipe's")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    # TF32 on GPUs for both the peak and the model, so MFU compares like with like.
    torch.set_float32_matmul_precision("high")
    on_gpu = device.type == "cuda"
    size = 8192 if on_gpu else 1024
    peak = matmul_peak_flops(device, torch.float32, size, repeats=20 if on_gpu else 5)
    print(f"device {device}: matmul peak {peak / 1e9:,.1f} GFLOP/s (fp32, {size}x{size})")
    print(f"{'recipe':<18} {'tokens/s':>12} {'GFLOP/token':>12} {'MFU':>7}")
    for name in args.recipes:
        train = TrainConfig.from_name(name)
        if args.batch_size:
            train = train.replace(batch_size=args.batch_size)
        tokens_per_s, flops = measure_training(name, train, device, args.steps)
        mfu = tokens_per_s * flops / peak
        print(f"{name:<18} {tokens_per_s:>12,.0f} {flops / 1e9:>12.4f} {mfu:>7.1%}")


if __name__ == "__main__":
    main()
