"""`python -m training.clip`: build hearth-clip-tiny, or convert a user's open_clip checkpoint.

prepare-data DIR                      fetch emoji and clipart packages, build the dataset
prepare-styles DIR                    the same plus icon themes, one style each (v2's dataset)
eval-styles --model M --dataset D     cross-style zero-shot top-1/top-5 against chance
train --dataset D --recipe R --out O  contrastive training with zero-shot eval per epoch
export --checkpoint C --out DIR       write the ONNX runtime folder and its curve
import-checkpoint --arch A --checkpoint C --out DIR --name N   (hearth models import-clip)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def prepare(args: argparse.Namespace) -> int:
    from training.clip.data import prepare_clip_data

    print(prepare_clip_data(args.dir))
    return 0


def prepare_styles(args: argparse.Namespace) -> int:
    from training.clip.style_data import prepare_style_data

    print(prepare_style_data(args.dir))
    return 0


def eval_styles(args: argparse.Namespace) -> int:
    from training.clip.data import load_dataset
    from training.clip.split import split_styles
    from training.clip.style_eval import evaluate_styles, load_embedder

    split = split_styles(
        load_dataset(args.dataset), args.held_out_style, args.concept_percent, args.image_percent
    )
    print(f"{args.model}: held-out style {args.held_out_style}; {len(split.train)} training images")
    for score in evaluate_styles(load_embedder(args.model, args.threads), args.dataset, split):
        print("\n".join([score.line(), *score.style_lines()]))
    return 0


def train(args: argparse.Namespace) -> int:
    from training.clip.train import ClipTrainConfig, train_clip

    config = ClipTrainConfig.from_file(args.recipe)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("workers", args.workers)) if v}
    config = ClipTrainConfig(**(config.__dict__ | overrides))
    train_clip(args.dataset, config, args.out)
    return 0


def export(args: argparse.Namespace) -> int:
    from training.clip.checkpoint import export_checkpoint

    print(export_checkpoint(args.checkpoint, args.out, args.name))
    return 0


def import_user_checkpoint(args: argparse.Namespace) -> int:
    from training.clip.import_checkpoint import UnsupportedClipError, import_checkpoint

    if not args.checkpoint.is_file():
        print(f"error: checkpoint {args.checkpoint} does not exist", file=sys.stderr)
        return 1
    try:
        folder = import_checkpoint(args.arch, args.checkpoint, args.out, args.name)
    except (UnsupportedClipError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(folder)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m training.clip", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare-data")
    p.add_argument("dir", type=Path)
    p.set_defaults(run=prepare)
    s = commands.add_parser("prepare-styles", help="emoji, clipart and icon themes")
    s.add_argument("dir", type=Path)
    s.set_defaults(run=prepare_styles)
    v = commands.add_parser("eval-styles", help="cross-style zero-shot evaluation")
    v.add_argument("--model", type=Path, required=True, help="runtime folder or checkpoint.pt")
    v.add_argument("--dataset", type=Path, required=True, help="prepare-styles' dataset folder")
    v.add_argument("--held-out-style", default="oxygen", help="the style never trained on")
    v.add_argument("--concept-percent", type=int, default=10, help="concepts never trained")
    v.add_argument("--image-percent", type=int, default=15, help="icon images held out")
    v.add_argument("--threads", type=int, default=1, help="ONNX runtime threads")
    v.set_defaults(run=eval_styles)
    t = commands.add_parser("train")
    t.add_argument("--dataset", type=Path, required=True)
    t.add_argument("--recipe", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--epochs", type=int, help="override the recipe's epochs")
    t.add_argument("--workers", type=int, help="DataLoader processes for augmentation")
    t.set_defaults(run=train)
    e = commands.add_parser("export")
    e.add_argument("--checkpoint", type=Path, required=True)
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--name", default="hearth-clip-tiny")
    e.set_defaults(run=export)
    i = commands.add_parser("import-checkpoint", help="open_clip checkpoint -> ONNX towers")
    i.add_argument("--arch", required=True, help="open_clip model name or config .json")
    i.add_argument("--checkpoint", type=Path, required=True)
    i.add_argument("--out", type=Path, required=True, help="folder to write")
    i.add_argument("--name", required=True)
    i.set_defaults(run=import_user_checkpoint)
    args = parser.parse_args()
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
