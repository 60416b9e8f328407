"""The preference-tuning subcommands of `python -m training`: dpo-pairs and dpo."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from training.dpo_data import PAIR_KINDS
from training.finetune_cli import LORA_SHAPE_DEFAULTS, add_lora_options, finetune_config

# A DPO run starts near a good policy and only nudges it: a smaller step than SFT's, and
# grounded prompts (instruction and four sources) are longer than SFT's 512-token default.
_DPO_DEFAULTS: dict[str, float | int] = {
    "steps": 200,
    "batch_size": 4,
    "learning_rate": 1e-4,
    "max_tokens": 1024,
}


def _dpo_pairs(args: argparse.Namespace) -> int:
    from training.dpo_data import write_pairs
    from training.dpo_pairs import preference_pairs
    from training.finetune_data import InvalidExampleError, read_conversations

    try:
        conversations = read_conversations(args.data)
        pairs = preference_pairs(
            conversations, args.kinds, seed=args.seed, over_refusing_per_refusal=args.over_refusing
        )
    except (InvalidExampleError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not pairs:
        print(f"error: {args.data} holds no grounded example with a cited reply", file=sys.stderr)
        return 2
    counts = Counter(p.kind for p in pairs)
    print(
        f"wrote {write_pairs(args.out, pairs)}: " + ", ".join(f"{n} {k}" for k, n in counts.items())
    )
    return 0


def _dpo(args: argparse.Namespace) -> int:
    from training.dpo import DpoConfig, dpo
    from training.dpo_data import read_pairs, split_pairs
    from training.finetune import load_base
    from training.finetune_data import InvalidExampleError
    from training.finetune_export import ADAPTER_NAME, export_adapter

    shape_problem = _lora_shape(args)
    if shape_problem:
        print(f"error: {shape_problem}", file=sys.stderr)
        return 2
    if args.sft_weight < 0:
        print(f"error: --sft-weight must be 0 or more, not {args.sft_weight:g}", file=sys.stderr)
        return 2
    config = finetune_config(args)
    try:
        train = read_pairs(args.data)
        if args.eval:
            heldout = read_pairs(args.eval)
        else:
            train, heldout = split_pairs(train, args.eval_fraction, config.seed)
    except InvalidExampleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    base = load_base(args.base)
    start = f", starting from {args.adapter}'s adapter" if args.adapter else ""
    print(f"{len(train)} training and {len(heldout)} held-out pairs; base {args.base}{start}")
    trainer = dpo(
        args.out,
        base,
        train,
        heldout,
        config,
        DpoConfig(beta=args.beta, sft_weight=args.sft_weight),
        start_run=args.adapter,
        resume=args.resume,
        until_step=args.until_step,
    )
    history = trainer.history
    print(f"held-out preference loss {history.eval_loss[0]:.3f} -> {history.eval_loss[-1]:.3f}")
    if trainer.step == config.steps:
        info = export_adapter(args.out, args.out / ADAPTER_NAME, name=args.out.name)
        print(f"wrote {info.path}")
    return 0


def _lora_shape(args: argparse.Namespace) -> str | None:
    """Fill --rank and --alpha: an SFT run's adapter brings its own, so a value given beside
    --adapter must match it (else it is refused, never ignored); without one, the defaults."""
    if args.adapter is None:
        for key, default in LORA_SHAPE_DEFAULTS.items():
            if getattr(args, key) is None:
                setattr(args, key, default)
        return None
    from training.checkpoint import MissingCheckpointError
    from training.finetune import read_finetune_checkpoint

    try:
        stored = read_finetune_checkpoint(args.adapter)["config"]
    except MissingCheckpointError as exc:
        return str(exc)
    for key in LORA_SHAPE_DEFAULTS:
        given = getattr(args, key)
        if given is not None and given != stored[key]:
            return (
                f"--{key} {given:g} differs from {args.adapter}'s adapter ({stored[key]:g}), "
                f"which DPO continues: leave --{key} out"
            )
        setattr(args, key, stored[key])
    return None


def add_dpo_commands(commands: argparse._SubParsersAction) -> None:
    pairs = commands.add_parser(
        "dpo-pairs", help="make preference pairs from grounded chat examples (JSONL)"
    )
    pairs.add_argument("--data", type=Path, required=True, help="smol-data style JSONL")
    pairs.add_argument("--out", type=Path, required=True, help="pairs JSONL to write")
    pairs.add_argument(
        "--kinds", nargs="+", choices=PAIR_KINDS, default=list(PAIR_KINDS), help="rejected kinds"
    )
    pairs.add_argument(
        "--over-refusing",
        type=float,
        metavar="R",
        help="only R over-refusing pairs per refusal in the data (default: one per answer)",
    )
    pairs.add_argument("--seed", type=int, default=0)
    pairs.set_defaults(handler=_dpo_pairs)

    tune = commands.add_parser("dpo", help="preference-tune a LoRA adapter on pairs (DPO)")
    add_lora_options(tune, 'JSONL of {"messages", "chosen", "rejected", "kind"}', **_DPO_DEFAULTS)
    tune.add_argument("--beta", type=float, default=0.1, help="DPO's beta (KL strength)")
    tune.add_argument(
        "--sft-weight",
        type=float,
        default=0.0,
        help="add this times the chosen replies' mean token NLL to the loss (keeps them likely)",
    )
    tune.add_argument(
        "--adapter",
        type=Path,
        help="an SFT run folder: start from its adapter (its rank and alpha) as the reference",
    )
    tune.set_defaults(rank=None, alpha=None)  # filled by _lora_shape
    tune.set_defaults(handler=_dpo)
