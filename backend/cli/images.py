"""`hearth images`: zero-shot labels for a picture, with the CLIP model from settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from backend.cli.arguments import label_list, positive_int
from backend.cli.output import fail, print_json

if TYPE_CHECKING:
    from backend.images.index import ImageHit, ImageIndex


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("images", help="label your images and search them by description")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    label = actions.add_parser("label", help="what an image likely shows, with probabilities")
    label.add_argument("path", type=Path)
    label.add_argument(
        "--labels",
        type=label_list,
        default=[],
        help='comma-separated candidates, e.g. "cat,dog,car" (default: the model\'s vocabulary)',
    )
    label.add_argument("--top", type=positive_int, default=5, help="how many labels to print")
    label.add_argument("--model", help="CLIP model (default from settings)")
    label.add_argument("--json", action="store_true", help="machine-readable output")
    label.set_defaults(handler=label_image)

    index = actions.add_parser("index", help="embed every image in a folder (incremental)")
    index.add_argument("folder", type=Path)
    index.add_argument("--json", action="store_true", help="machine-readable summary")
    index.set_defaults(handler=index_folder)

    search = actions.add_parser("search", help="find indexed images by description")
    search.add_argument("query")
    search.add_argument("--k", type=positive_int, default=12, help="how many results")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.set_defaults(handler=search_images)

    similar = actions.add_parser("similar", help="find indexed images that look like this one")
    similar.add_argument("path", type=Path)
    similar.add_argument("--k", type=positive_int, default=12, help="how many results")
    similar.add_argument("--json", action="store_true", help="machine-readable output")
    similar.set_defaults(handler=similar_images)


def label_image(args: argparse.Namespace) -> int:
    from backend.images.clip import ClipModel
    from backend.images.decode import ImageDecodeError, open_image
    from backend.images.labels import NoLabelsError
    from backend.images.labels import label_image as label
    from backend.images.registry import find_clip_model
    from backend.paths import HomeLayout
    from backend.settings import Settings

    try:
        image = open_image(args.path)
        folder = find_clip_model(HomeLayout.current(), args.model or Settings.load().image_model)
        labels = label(ClipModel(folder), image, args.labels, top=args.top)
    except (ImageDecodeError, NoLabelsError) as exc:
        return fail(str(exc))
    if args.json:
        print_json([{"label": item.label, "score": round(item.score, 6)} for item in labels])
    else:
        for item in labels:
            print(f"{item.score:7.1%}  {item.label}")
    return 0


def _open_index() -> ImageIndex:
    from backend.documents.vector_store import open_client
    from backend.images.clip import ClipModel
    from backend.images.index import ImageIndex
    from backend.images.registry import find_clip_model
    from backend.paths import HomeLayout
    from backend.settings import Settings

    layout, settings = HomeLayout.current().ensure(), Settings.load()
    model = ClipModel(find_clip_model(layout, settings.image_model))
    return ImageIndex(open_client(layout, settings.chroma_url), model)


def index_folder(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from backend.images.index import IndexProgress

    if not args.folder.is_dir():  # checked before the progress bar, which would show empty
        return fail(f"{args.folder} is not a folder")
    index = _open_index()
    progress = IndexProgress(done=0, total=0)
    with tqdm(unit="image", desc="indexing images", disable=args.json) as bar:
        for progress in index.index_folder(args.folder):
            bar.total = progress.total
            bar.update(progress.done - bar.n)
            bar.set_postfix_str(Path(progress.current).name)
    summary = {
        "folder": str(args.folder.resolve()),
        "images": progress.total,
        "embedded": progress.embedded,
        "unchanged": progress.skipped,
        "removed": progress.removed,
        "failures": progress.failures,
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"{progress.total} images: {progress.embedded} embedded, {progress.skipped} "
            f"unchanged, {progress.removed} removed, {len(progress.failures)} failed"
        )
        for reason in progress.failures.values():
            print(f"  skipped: {reason}")
    return 0


def _print_hits(hits: list[ImageHit], as_json: bool) -> int:
    if as_json:
        print_json([{"path": hit.path, "score": hit.score} for hit in hits])
    elif not hits:  # any k >= 1 finds something in a non-empty index
        print("No images indexed yet. Index a folder with: hearth images index FOLDER")
    else:
        for hit in hits:
            print(f"{hit.score:6.3f}  {hit.path}")
    return 0


def search_images(args: argparse.Namespace) -> int:
    return _print_hits(_open_index().search(args.query, args.k), args.json)


def similar_images(args: argparse.Namespace) -> int:
    from backend.images.decode import ImageDecodeError

    try:
        hits = _open_index().similar(args.path, args.k)
    except ImageDecodeError as exc:
        return fail(str(exc))
    return _print_hits(hits, args.json)
