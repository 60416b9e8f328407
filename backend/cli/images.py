"""`hearth images`: zero-shot labels for a picture, with the CLIP model from settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.cli.output import fail, print_json


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("images", help="label your images (search is coming)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    label = actions.add_parser("label", help="what an image likely shows, with probabilities")
    label.add_argument("path", type=Path)
    label.add_argument("--labels", help='comma-separated candidates, e.g. "cat,dog,car"')
    label.add_argument("--top", type=int, default=5, help="how many labels to print")
    label.add_argument("--model", help="CLIP model (default from settings)")
    label.add_argument("--json", action="store_true", help="machine-readable output")
    label.set_defaults(handler=label_image)


def label_image(args: argparse.Namespace) -> int:
    from backend.images.clip import ClipModel, InvalidClipModelError
    from backend.images.decode import ImageDecodeError, open_image
    from backend.images.labels import NoLabelsError
    from backend.images.labels import label_image as label
    from backend.images.registry import find_clip_model
    from backend.models.registry import UnknownModelError
    from backend.paths import HomeLayout
    from backend.settings import Settings

    candidates = (args.labels or "").split(",")
    try:
        image = open_image(args.path)
        folder = find_clip_model(HomeLayout.current(), args.model or Settings.load().image_model)
        labels = label(ClipModel(folder), image, candidates, top=args.top)
    except (
        OSError,
        ImageDecodeError,
        UnknownModelError,
        InvalidClipModelError,
        NoLabelsError,
    ) as exc:
        return fail(str(exc))
    if args.json:
        print_json([{"label": item.label, "score": round(item.score, 6)} for item in labels])
    else:
        for item in labels:
            print(f"{item.score:7.1%}  {item.label}")
    return 0
