"""The fine-tuning subcommands of `python -m training`: finetune, finetune-export, smol-data
(v1 and v2)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.finetune import FinetuneConfig

LORA_SHAPE_DEFAULTS: dict[str, float | int] = {"rank": 16, "alpha": 32.0}
_DEFAULTS = {
    **LORA_SHAPE_DEFAULTS,
    "steps": 300,
    "batch_size": 8,
    "learning_rate": 3e-4,
    "max_tokens": 512,
    "eval_every": 50,
    "warmup_steps": 10,
    "checkpoint_every": 25,
    "seed": 0,
}


def finetune_config(args: argparse.Namespace) -> FinetuneConfig:
    """The LoRA and optimizer settings `add_lora_options` parsed."""
    from training.finetune import FinetuneConfig

    return FinetuneConfig(**{key: getattr(args, key) for key in _DEFAULTS})


def _finetune(args: argparse.Namespace) -> int:
    from training.finetune import finetune, load_base
    from training.finetune_data import InvalidExampleError, read_conversations, split_eval
    from training.finetune_export import ADAPTER_NAME, export_adapter

    config = finetune_config(args)
    try:
        train = read_conversations(args.data)
        if args.eval:
            heldout = read_conversations(args.eval)
        else:
            train, heldout = split_eval(train, args.eval_fraction, config.seed)
    except InvalidExampleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    base = load_base(args.base)
    print(f"{len(train)} training and {len(heldout)} held-out conversations; base {args.base}")
    trainer = finetune(
        args.out, base, train, heldout, config, resume=args.resume, until_step=args.until_step
    )
    history = trainer.history
    print(f"held-out loss {history.eval_loss[0]:.3f} -> {history.eval_loss[-1]:.3f}")
    if trainer.step == config.steps:
        info = export_adapter(args.out, args.out / ADAPTER_NAME, name=args.out.name)
        print(f"wrote {info.path}")
    return 0


def _finetune_export(args: argparse.Namespace) -> int:
    from training.finetune_export import export_adapter, export_merged

    if not args.merge:
        info = export_adapter(args.run_dir, args.out, name=args.name or args.out.stem)
        print(f"wrote {info.path} (LoRA adapter)")
        return 0
    info = export_merged(args.run_dir, args.out, args.base)
    print(f"wrote {info.path} ({info.quantization}, {info.parameter_count:,} parameters)")
    if args.quantize:
        from training.quantize import quant_levels, quantize_gguf

        for level in quant_levels(args.out):
            print(f"wrote {quantize_gguf(args.out, level)}")
    return 0


def _smol_data(args: argparse.Namespace) -> int:
    from training.smol.dataset import build_smol_dataset

    for path in build_smol_dataset(args.text, args.out, seed=args.seed):
        print(f"wrote {path}")
    return 0


def _smol_data_v2(args: argparse.Namespace) -> int:
    from training.smol.real_questions import build_real_questions

    for path in build_real_questions(args.docs, args.out, limit=args.limit, seed=args.seed):
        print(f"wrote {path}")
    return 0


def add_lora_options(
    parser: argparse.ArgumentParser, data_help: str, **defaults: float | int
) -> None:
    """The options of a LoRA training run (finetune, dpo); `defaults` overrides _DEFAULTS."""
    default = {**_DEFAULTS, **defaults}
    parser.add_argument("--base", type=Path, required=True, help="HF model folder or .gguf file")
    parser.add_argument("--data", type=Path, required=True, help=data_help)
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    held = parser.add_mutually_exclusive_group()
    held.add_argument("--eval", type=Path, help="held-out JSONL (default: a fraction of --data)")
    held.add_argument("--eval-fraction", type=float, default=0.05)
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--until-step", type=int, help="stop (checkpointed) at this step")
    parser.add_argument("--rank", type=int, default=default["rank"])
    parser.add_argument("--alpha", type=float, default=default["alpha"])
    parser.add_argument("--steps", type=int, default=default["steps"])
    parser.add_argument("--batch-size", type=int, default=default["batch_size"])
    parser.add_argument("--lr", dest="learning_rate", type=float, default=default["learning_rate"])
    parser.add_argument("--max-tokens", type=int, default=default["max_tokens"])
    parser.add_argument("--eval-every", type=int, default=default["eval_every"])
    parser.add_argument("--warmup-steps", type=int, default=default["warmup_steps"])
    parser.add_argument("--checkpoint-every", type=int, default=default["checkpoint_every"])
    parser.add_argument("--seed", type=int, default=default["seed"])


def add_finetune_commands(commands: argparse._SubParsersAction) -> None:
    tune = commands.add_parser("finetune", help="train a LoRA adapter on chat examples (JSONL)")
    add_lora_options(tune, 'JSONL of {"messages": [...]}')
    tune.set_defaults(handler=_finetune)

    export = commands.add_parser("finetune-export", help="write a run's adapter (or merged) GGUF")
    export.add_argument("run_dir", type=Path)
    export.add_argument("--out", type=Path, required=True, help="GGUF file to write")
    export.add_argument("--name", help="name stored in the file (default: file stem)")
    export.add_argument("--merge", action="store_true", help="write base+adapter as one model")
    export.add_argument("--base", type=Path, help="base for --merge (default: the run's)")
    export.add_argument("--quantize", action="store_true", help="with --merge: also Q8_0/Q4")
    export.set_defaults(handler=_finetune_export)

    smol = commands.add_parser("smol-data", help="generate hearth-smol's fine-tuning examples")
    smol.add_argument("--text", type=Path, required=True, help="Debian docs text folder")
    smol.add_argument("--out", type=Path, required=True, help="folder for the JSONL splits")
    smol.add_argument("--seed", type=int, default=0)
    smol.set_defaults(handler=_smol_data)

    real = commands.add_parser("smol-data-v2", help="hearth-smol v2's grounded examples")
    real.add_argument("--docs", type=Path, required=True, help="folder of permissive docs")
    real.add_argument("--out", type=Path, required=True, help="folder for JSONL and stats")
    real.add_argument("--limit", type=int, default=3000, help="examples to write")
    real.add_argument("--seed", type=int, default=0)
    real.set_defaults(handler=_smol_data_v2)
