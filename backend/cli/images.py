"""`hearth images`: zero-shot labels and the text in a picture, and image search (by
description and by the words in pictures) through the running backend or else in this
process (the same rule as `hearth docs`)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from backend.cli.arguments import label_list, positive_int
from backend.cli.output import fail, print_json

if TYPE_CHECKING:
    from backend.wire import (
        ImageHit,
        ImageIndexEvent,
        ImageReading,
        IndexedFolder,
        IndexedFolderRemoved,
    )


class _Images(Protocol):
    """What the commands need, served in process (ImageIndex) or by the backend."""

    def index_folder(self, folder: Path) -> Iterator[ImageIndexEvent]: ...

    def search(self, text: str, k: int = 12, cutoff: bool = True) -> list[ImageHit]: ...

    def similar(self, path: Path, k: int = 12) -> list[ImageHit]: ...

    def remove_folder(self, folder: Path) -> IndexedFolderRemoved: ...


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "images", help="label your images, read their text, and search them by description"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    label = actions.add_parser(
        "label", help="what an image likely shows, with probabilities, and the text in it"
    )
    label.add_argument("path", type=Path)
    label.add_argument(
        "--labels",
        type=label_list,
        default=[],
        help='comma-separated candidates, e.g. "cat,dog,car" (default: the model\'s vocabulary)',
    )
    label.add_argument("--top", type=positive_int, default=5, help="how many labels to print")
    label.add_argument("--model", help="CLIP model (default from settings)")
    label.add_argument("--no-text", action="store_true", help="do not read the text (OCR)")
    label.add_argument("--json", action="store_true", help="machine-readable output")
    label.set_defaults(handler=label_image)

    index = actions.add_parser("index", help="embed every image in a folder (incremental)")
    index.add_argument("folder", type=Path, nargs="?")
    index.add_argument(
        "--reindex",
        action="store_true",
        help="also index again, with the current image model, every folder another model indexed",
    )
    index.add_argument("--json", action="store_true", help="machine-readable summary")
    index.set_defaults(handler=index_folders)

    models = actions.add_parser("models", help="the image models to choose from")
    models.add_argument("--json", action="store_true", help="machine-readable output")
    models.set_defaults(handler=list_models)

    folders = actions.add_parser("folders", help="the indexed folders, and which need --reindex")
    folders.add_argument("--json", action="store_true", help="machine-readable output")
    folders.set_defaults(handler=list_folders)

    remove = actions.add_parser("remove", help="forget an indexed folder (its files stay)")
    remove.add_argument("folder", type=Path)
    remove.add_argument("--json", action="store_true", help="machine-readable summary")
    remove.set_defaults(handler=remove_folder)

    search = actions.add_parser("search", help="find indexed images by description")
    search.add_argument("query")
    search.add_argument("--k", type=positive_int, default=12, help="how many results")
    search.add_argument(
        "--all",
        action="store_true",
        help="also the pictures far less likely than the best match (no cut-off)",
    )
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
    from backend.images.text import read_text, reading
    from backend.ocr import OcrError
    from backend.paths import HomeLayout
    from backend.settings import Settings

    try:
        settings = Settings.load()
        image = open_image(args.path, limit=settings.max_image_bytes)
        folder = find_clip_model(HomeLayout.current(), args.model or settings.image_model)
        labels = label(ClipModel(folder), image, args.labels, top=args.top)
        found = reading(labels, [] if args.no_text else read_text(image))
    except (ImageDecodeError, NoLabelsError, OcrError) as exc:
        return fail(str(exc))
    if args.json:
        print_json(found.model_dump(mode="json"))
    else:
        _print_reading(found)
    return 0


def _print_reading(found: ImageReading) -> None:
    for item in found.labels:
        print(f"{item.score:7.1%}  {item.label}")
    if found.text:
        print("\nText read from the image:")
        print(found.text)


@contextmanager
def _images() -> Iterator[_Images]:
    """The running backend's image index if one is serving (it owns the Chroma store then),
    else the index in this process, as `hearth docs` does."""
    from backend.discovery import load_or_create_token, read_backend_info
    from backend.paths import HomeLayout

    layout = HomeLayout.current().ensure()
    info = read_backend_info(layout)
    if info is not None:
        from backend.client import HearthClient

        with closing(HearthClient(info.url, load_or_create_token(layout))) as client:
            yield client.images
        return
    from backend.documents.vector_store import VectorStore
    from backend.images.service import ImageService
    from backend.settings import Settings

    settings = Settings.load(layout)
    with closing(VectorStore(layout, settings.chroma_url)) as vectors:
        yield ImageService(layout, settings, vectors).index


def _indexed_folders() -> list[IndexedFolder]:
    """The folders image models indexed, each marked if the current image model has not."""
    from backend.images.indexed_folders import indexed_folders
    from backend.paths import HomeLayout
    from backend.settings import Settings

    layout = HomeLayout.current()
    return indexed_folders(layout, Settings.load(layout).image_model)


def index_folders(args: argparse.Namespace) -> int:
    """Index the folder given and, with --reindex, every folder the current model has not."""
    import sys

    folders = [args.folder] if args.folder is not None else []
    if folders and not args.folder.is_dir():  # checked before the progress bar shows empty
        return fail(f"{args.folder} is not a folder")
    if args.reindex:
        stale = [Path(f.folder) for f in _indexed_folders() if f.needs_reindex]
        for gone in [folder for folder in stale if not folder.is_dir()]:
            print(f"hearth: skipped {gone}: it is no longer a folder", file=sys.stderr)
        given = {folder.resolve() for folder in folders}
        folders += [folder for folder in stale if folder.is_dir() and folder not in given]
    elif not folders:
        return fail("give a folder to index, or --reindex")
    summaries = [index_folder(folder, args.json) for folder in folders]
    if args.json:
        print_json(summaries if args.reindex else summaries[0])
    elif not folders:
        print("every indexed folder is indexed with the current image model already")
    return 0


def index_folder(folder: Path, as_json: bool) -> dict[str, Any]:
    """Index one folder with a progress bar; returns its summary, printed unless `as_json`."""
    from tqdm import tqdm

    from backend.wire import ImageIndexEvent

    progress = ImageIndexEvent(done=0, total=0)
    with (
        _images() as images,
        tqdm(unit="image", desc="indexing images", disable=as_json) as bar,
    ):
        for progress in images.index_folder(folder):
            bar.total = progress.total
            bar.update(progress.done - bar.n)
            bar.set_postfix_str(Path(progress.current).name)
    summary = {
        "folder": str(folder.resolve()),
        "images": progress.total,
        "embedded": progress.embedded,
        "unchanged": progress.skipped,
        "removed": progress.removed,
        "with_text": progress.with_text,
        "failures": progress.failures,
    }
    if not as_json:
        print(
            f"{progress.total} images: {progress.embedded} embedded ({progress.with_text} with "
            f"text), {progress.skipped} unchanged, {progress.removed} removed, "
            f"{len(progress.failures)} failed"
        )
        for reason in progress.failures.values():
            print(f"  skipped: {reason}")
    return summary


def list_models(args: argparse.Namespace) -> int:
    from backend.images.registry import describe_clip_models
    from backend.paths import HomeLayout
    from backend.settings import Settings

    layout = HomeLayout.current()
    models = describe_clip_models(layout, Settings.load(layout).image_model)
    if args.json:
        print_json([model.model_dump(mode="json") for model in models])
    for model in [] if args.json else models:
        mark = "*" if model.current else " "
        print(f"{mark} {model.name:<28} {model.source or model.folder}")
    return 0


def list_folders(args: argparse.Namespace) -> int:
    folders = _indexed_folders()
    if args.json:
        print_json([folder.model_dump(mode="json") for folder in folders])
    elif not folders:
        print("No folders indexed yet. Index one with: hearth images index FOLDER")
    for folder in [] if args.json else folders:
        note = "  needs --reindex" if folder.needs_reindex else ""
        print(f"{folder.folder}  ({', '.join(folder.models)}){note}")
    return 0


def _print_hits(hits: list[ImageHit], as_json: bool) -> int:
    if as_json:
        print_json([hit.model_dump(mode="json") for hit in hits])
    elif not hits:  # any k >= 1 finds something in a non-empty index
        print("No images indexed yet. Index a folder with: hearth images index FOLDER")
    else:
        for hit in hits:
            print(f"{hit.score:6.3f}  {hit.path}{'  (its text matches)' if hit.text else ''}")
    return 0


def search_images(args: argparse.Namespace) -> int:
    import sys

    with _images() as images:
        hits = images.search(args.query, args.k, cutoff=not args.all)
    stale = [f.folder for f in _indexed_folders() if f.needs_reindex]
    if stale:  # on stderr, so that --json output stays one document
        print(
            f"hearth: not searched, indexed with another image model: {', '.join(stale)} "
            "(index them again with: hearth images index --reindex)",
            file=sys.stderr,
        )
    return _print_hits(hits, args.json)


def similar_images(args: argparse.Namespace) -> int:
    from backend.images.decode import ImageDecodeError

    try:
        with _images() as images:
            hits = images.similar(args.path, args.k)
    except ImageDecodeError as exc:
        return fail(str(exc))
    return _print_hits(hits, args.json)


def remove_folder(args: argparse.Namespace) -> int:
    with _images() as images:  # a folder never indexed: the one `except` in main says so
        removed = images.remove_folder(args.folder)
    if args.json:
        print_json(removed.model_dump(mode="json"))
    else:
        print(f"forgot {removed.folder}: {removed.images} pictures left the image search")
    return 0
