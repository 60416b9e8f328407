"""The `python -m training` subcommands; each handler imports its heavy modules itself."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from subprocess import CalledProcessError
from typing import TYPE_CHECKING

from backend.errors import HearthError
from training.dpo_cli import add_dpo_commands
from training.errors import TrainingError
from training.finetune_cli import add_finetune_commands

if TYPE_CHECKING:
    from training.models.config import ModelConfig
    from training.pretrain import TrainConfig


_PIPELINE = """the usual order:
  python -m training prepare-text --out DATA
  python -m training pretrain --recipe hearth-tiny --tokenizer DATA/tokenizer.json \\
      --data DATA/shards --out RUN          (or: torchrun --nproc_per_node N -m training ...)
  python -m training export RUN RUN/hearth-tiny-f16.gguf
  python -m training quantize-report RUN/hearth-tiny-f16.gguf --text RUN/heldout.txt
  python -m training scaling --tokenizer DATA/tokenizer.json --data DATA/shards --out SWEEP
"""


def _tokenizer(args: argparse.Namespace) -> int:
    from training.data import read_texts
    from training.tokenizer import check_tokenizer_target, save_tokenizer, train_bpe

    check_tokenizer_target(args.out)
    tokenizer = train_bpe(read_texts(args.input), vocab_size=args.vocab_size)
    save_tokenizer(tokenizer, args.out)
    print(f"wrote {args.out} ({tokenizer.get_vocab_size()} tokens)")
    return 0


def _configs(args: argparse.Namespace, vocab_size: int) -> tuple[ModelConfig, TrainConfig]:
    """The recipe's configs; the vocabulary size always comes from the tokenizer."""
    from training.models.config import ModelConfig
    from training.pretrain import TrainConfig

    overrides = {k: v for k, v in (("max_steps", args.max_steps), ("parallel", args.parallel)) if v}
    if args.recipe_file:
        return (
            ModelConfig.from_file(args.recipe_file, vocab_size=vocab_size),
            TrainConfig.from_file(args.recipe_file, **overrides),
        )
    return (
        ModelConfig.from_name(args.recipe, vocab_size=vocab_size),
        TrainConfig.from_name(args.recipe, **overrides),
    )


def _pretrain(args: argparse.Namespace) -> int:
    from training.data import decode_documents, load_token_stream, split_heldout
    from training.distributed import is_main_process
    from training.export import TOKENIZER_NAME
    from training.pretrain import pretrain
    from training.tokenizer import load_tokenizer, save_tokenizer

    tokenizer = load_tokenizer(args.tokenizer)
    model_config, train_config = _configs(args, tokenizer.get_vocab_size())
    splits = split_heldout(load_token_stream(args.data, tokenizer), train_config.heldout_fraction)
    if is_main_process():
        # The run folder carries what export and quantize-report need besides the checkpoint.
        args.out.mkdir(parents=True, exist_ok=True)
        save_tokenizer(tokenizer, args.out / TOKENIZER_NAME)
        heldout_text = decode_documents(splits.heldout, tokenizer)
        (args.out / "heldout.txt").write_text(heldout_text, encoding="utf-8")
    pretrain(
        args.out, model_config, train_config, splits, resume=args.resume, until_step=args.until_step
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from training.export import export_run

    info = export_run(args.run_dir, args.out, name=args.name, half=not args.f32)
    print(f"wrote {args.out} ({info.quantization}, {info.parameter_count:,} parameters)")
    return 0


def _quantize(args: argparse.Namespace) -> int:
    from training.quantize import quant_levels, quantize_gguf

    for level in quant_levels(args.model):
        print(f"wrote {quantize_gguf(args.model, level)}")
    return 0


def _quantize_report(args: argparse.Namespace) -> int:
    from training.quantize import format_report, quantize_report

    text = args.text.read_text(encoding="utf-8")
    print(format_report(quantize_report(args.model, text, max_tokens=args.max_tokens)))
    return 0


def _prepare_text(args: argparse.Namespace) -> int:
    from training.corpus import collect_text, shard_text
    from training.data import read_texts
    from training.tokenizer import load_tokenizer, save_tokenizer, train_bpe

    cleaned = collect_text(args.out)
    if args.tokenizer:
        tokenizer = load_tokenizer(args.tokenizer)
    else:
        tokenizer = train_bpe(read_texts([args.out / "text"]), vocab_size=args.vocab_size)
        print(f"wrote {save_tokenizer(tokenizer, args.out / 'tokenizer.json')}")
    print(f"wrote {shard_text(cleaned, tokenizer, args.out / 'shards')}")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The sweep's command line as the card should show it, to rerun it exactly."""
    recipe = f"--recipe-file {args.recipe_file}" if args.recipe_file else f"--recipe {args.recipe}"
    card = f" --card {args.card}" if args.card else ""
    return (
        f"python -m training scaling {recipe} --tokenizer {args.tokenizer} --data {args.data} "
        f"--out {args.out}{card}"
    )


def _scaling(args: argparse.Namespace) -> int:
    import shutil

    from training.data import load_token_stream, split_heldout
    from training.scaling import (
        SweepRecipe,
        fit_sweep,
        plot_sweep,
        replace_card_section,
        run_sweep,
        sweep_markdown,
        write_results,
    )
    from training.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(args.tokenizer)
    vocab_size = tokenizer.get_vocab_size()
    if args.recipe_file:
        recipe = SweepRecipe.from_file(args.recipe_file, vocab_size)
    else:
        recipe = SweepRecipe.from_name(args.recipe, vocab_size)
    heldout_fraction = next(iter(recipe.train.values())).get("heldout_fraction", 0.05)
    splits = split_heldout(load_token_stream(args.data, tokenizer), heldout_fraction)
    runs = run_sweep(args.out, recipe, splits)
    fits = fit_sweep(runs)
    plot = plot_sweep(runs, fits, args.out / "scaling.png")
    write_results(args.out, runs, fits)
    markdown = sweep_markdown(runs, fits, plot.name, budget=recipe.budget, command=_command(args))
    print(markdown)
    if args.card:
        shutil.copyfile(plot, args.card / plot.name)
        print(f"updated {replace_card_section(args.card / 'MODEL_CARD.md', markdown)}")
    return 0


def _build_tiny(args: argparse.Namespace) -> int:
    from training.hearth_tiny import build

    print(f"wrote {build(args.data, args.runs, args.out)}")
    return 0


def _add_commands(commands: argparse._SubParsersAction) -> None:
    tok = commands.add_parser("tokenizer", help="train a byte-level BPE tokenizer")
    tok.add_argument("--input", type=Path, nargs="+", required=True, help="text files or folders")
    tok.add_argument("--vocab-size", type=int, default=4096)
    tok.add_argument("--out", type=Path, required=True, help="tokenizer.json to write")
    tok.set_defaults(handler=_tokenizer)

    text = commands.add_parser("prepare-text", help="fetch Debian docs, clean and shard them")
    text.add_argument("--out", type=Path, required=True, help="data folder, outside git")
    text.add_argument("--tokenizer", type=Path, help="use this tokenizer instead of training one")
    text.add_argument("--vocab-size", type=int, default=4096)
    text.set_defaults(handler=_prepare_text)

    pre = commands.add_parser("pretrain", help="train a decoder from scratch (torchrun-able)")
    recipe = pre.add_mutually_exclusive_group(required=True)
    recipe.add_argument("--recipe", help="name of a recipe in models/recipes")
    recipe.add_argument("--recipe-file", type=Path, help="path to a recipe YAML")
    pre.add_argument("--tokenizer", type=Path, required=True)
    pre.add_argument("--data", type=Path, required=True, help="text folder or prepared shards")
    pre.add_argument("--out", type=Path, required=True, help="run folder")
    pre.add_argument("--resume", action="store_true", help="continue the run in --out")
    pre.add_argument("--max-steps", type=int, help="override the recipe's max_steps")
    pre.add_argument("--until-step", type=int, help="stop (checkpointed) at this step")
    pre.add_argument("--parallel", choices=["ddp", "fsdp"], help="sharing under torchrun")
    pre.set_defaults(handler=_pretrain)

    exp = commands.add_parser("export", help="export a run's checkpoint to GGUF")
    exp.add_argument("run_dir", type=Path)
    exp.add_argument("out", type=Path, help="GGUF file to write")
    exp.add_argument("--name", help="model name stored in the file (default: run folder)")
    exp.add_argument("--f32", action="store_true", help="keep float32 weights instead of f16")
    exp.set_defaults(handler=_export)

    quant = commands.add_parser("quantize", help="write Q8_0 and Q4_K_M (or Q4_0) copies")
    quant.add_argument("model", type=Path)
    quant.set_defaults(handler=_quantize)

    report = commands.add_parser("quantize-report", help="size, perplexity and speed per level")
    report.add_argument("model", type=Path, help="an f16 GGUF")
    report.add_argument("--text", type=Path, required=True, help="held-out text (heldout.txt)")
    report.add_argument("--max-tokens", type=int, default=2048)
    report.set_defaults(handler=_quantize_report)

    sweep = commands.add_parser("scaling", help="train several sizes and fit loss power laws")
    recipe = sweep.add_mutually_exclusive_group()
    recipe.add_argument("--recipe", default="hearth-scaling", help="a scaling recipe's name")
    recipe.add_argument("--recipe-file", type=Path, help="path to a scaling recipe YAML")
    sweep.add_argument("--tokenizer", type=Path, required=True)
    sweep.add_argument("--data", type=Path, required=True, help="text folder or prepared shards")
    sweep.add_argument("--out", type=Path, required=True, help="sweep folder (resumable)")
    sweep.add_argument("--card", type=Path, help="model folder whose MODEL_CARD.md gets the fit")
    sweep.set_defaults(handler=_scaling)

    tiny = commands.add_parser("build-tiny", help="train, quantize and card hearth-tiny (+MoE)")
    tiny.add_argument("--data", type=Path, required=True, help="prepare-text folder (made if new)")
    tiny.add_argument("--runs", type=Path, required=True, help="run folders (resumable)")
    tiny.add_argument(
        "--out", type=Path, required=True, help="model folder, e.g. models/hearth-tiny"
    )
    tiny.set_defaults(handler=_build_tiny)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Build Hearth's own models, from text to quantized GGUF files.",
        epilog=_PIPELINE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_commands(commands)
    add_finetune_commands(commands)
    add_dpo_commands(commands)
    return parser


# Failures the user can fix, shown as one line; any other exception is a bug, shown with its
# traceback. apt-get or dpkg failing (CalledProcessError) has printed its own message already.
_USER_ERRORS = (TrainingError, HearthError, FileNotFoundError, FileExistsError, CalledProcessError)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except _USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
