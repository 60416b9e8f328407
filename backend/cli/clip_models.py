"""`hearth models add-clip` and `verify-clip`: image models from the Hub's ONNX CLIP exports."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from backend.cli.output import fail

if TYPE_CHECKING:
    from backend.images.onnx_layouts import Variant
    from backend.paths import HomeLayout

REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # owner/name, as the Hub spells repos


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    added = actions.add_parser(
        "add-clip",
        help="use an ONNX CLIP from the Hub (like Xenova/clip-vit-base-patch32) for images",
    )
    added.add_argument(
        "source",
        help="a folder holding the repo's files (onnx/, tokenizer.json, ...), or the repo "
        "(owner/name) or catalog id to download them from Hugging Face",
    )
    added.add_argument("--name", help="name to register it under (default: the repo's name)")
    added.add_argument(
        "--quantized",
        action="store_true",
        help="use onnx/*_quantized.onnx: a quarter of the size, slightly less exact",
    )
    added.add_argument("--use", action="store_true", help="make it the image model in settings")
    added.set_defaults(handler=add_clip)

    verified = actions.add_parser(
        "verify-clip", help="check an image model's files against the sha256 recorded for them"
    )
    verified.add_argument("name")
    verified.set_defaults(handler=verify_clip)


def default_name(folder: Path) -> str:
    """The folder's name, or the repo's for a Hugging Face cache snapshot
    (models--Xenova--clip-vit-base-patch32/snapshots/<commit>)."""
    folder = folder.resolve()
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.parent.parent.name.split("--")[-1]
    return folder.name


def add_clip(args: argparse.Namespace) -> int:
    from backend.images.onnx_layouts import register_clip_folder
    from backend.paths import HomeLayout

    layout = HomeLayout.current()
    variant: Variant = "quantized" if args.quantized else "fp32"
    local = Path(args.source).expanduser()
    repo = None if local.is_dir() else _hub_repo(args.source)
    if local.is_dir():
        name = args.name or default_name(local)
        print(f"registering {name}: checksums, then the default labels embedded once ...")
        folder = register_clip_folder(layout, local, name, variant=variant)
    elif repo is not None:
        default = args.source if "/" not in args.source else repo.rsplit("/", 1)[-1]
        folder = _download(layout, repo, args.name or default, variant)
    else:
        return fail(f"{args.source} is neither a folder, a repo (owner/name) nor a catalog id")
    name = folder.name
    print(f"added image model {name} -> {folder}")
    if args.use:
        use_image_model(layout, name)
    else:
        print(f"to use it, set image_model to {name!r} in the settings")
    return 0


def _hub_repo(source: str) -> str | None:
    """The Hugging Face repo `source` names: owner/name, unless `owner` is a folder here (then
    it is a mistyped path, and no request goes out), or the id of a catalog image model."""
    from backend.models.catalog import load_catalog

    if REPO_ID.fullmatch(source):
        return None if Path(source.split("/")[0]).exists() else source
    found = [m for m in load_catalog().models if m.id.lower() == source.lower()]
    return found[0].repo if found and found[0].kind == "clip" else None


def _download(layout: HomeLayout, repo: str, name: str, variant: Variant) -> Path:
    """Fetch the files Hearth reads from `repo`, with a progress bar, and register them."""
    from tqdm import tqdm

    from backend.images.clip_download import download_clip
    from backend.models.download import Progress

    print(f"downloading {repo} ({variant}), then the default labels are embedded once ...")
    with tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc=name) as bar:

        def show(progress: Progress) -> None:
            bar.total = progress.bytes_total
            bar.update(progress.bytes_done - bar.n)
            bar.set_postfix_str(progress.current_file.rsplit("/", 1)[-1])

        return download_clip(layout, repo, name, show, variant=variant)


def use_image_model(layout: HomeLayout, name: str) -> None:
    """Make `name` the image model, and say which indexed folders it must index again."""
    from backend.images.indexed_folders import FolderRecord
    from backend.settings import Settings

    settings = Settings.load(layout)
    settings.image_model = name
    settings.save(layout)
    print(f"image labels and image search now use {name} (a running backend after a restart)")
    stale = FolderRecord.of(layout).stale(name)
    if stale:
        print(f"{len(stale)} folder(s) indexed with another model must be indexed again:")
        for folder in stale:
            print(f"  {folder.folder}")
        print("index them with: hearth images index --reindex")


def verify_clip(args: argparse.Namespace) -> int:
    from backend.images.onnx_layouts import verify_clip_files
    from backend.images.registry import find_clip_model
    from backend.paths import HomeLayout

    changed = verify_clip_files(find_clip_model(HomeLayout.current(), args.name))
    if changed:
        return fail(f"{args.name}: these files changed since registration: {', '.join(changed)}")
    print(f"{args.name}: every recorded file matches its sha256")
    return 0
