"""Downloading a transformers.js CLIP (like Xenova/clip-vit-base-patch32) from Hugging Face.

Only the files Hearth reads are fetched (the repo's other variants come to gigabytes), with
backend/models/download.py's machinery: partial files that resume, the Hub's sha256 checked,
the RAM and disk checked before any byte. They land in HEARTH_HOME/models/clip/NAME under their
paths in the repo and are then registered there (onnx_layouts.register_clip_folder), the
manifest last, so a model half-downloaded is never listed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from backend.images.onnx_layouts import (
    OPTIONAL_FILES,
    ImageModelExistsError,
    UnsupportedLayoutError,
    Variant,
    register_clip_folder,
    xenova_files,
)
from backend.images.registry import clip_dir
from backend.models.download import DownloadPlan, Listener, check_room, run_download
from backend.models.hub import repo_files
from backend.models.memory import available_memory
from backend.models.registry import check_model_name
from backend.paths import HomeLayout


def plan_clip_download(
    layout: HomeLayout, repo: str, name: str, variant: Variant = "fp32"
) -> DownloadPlan:
    """The repo's files Hearth needs, at its current commit (one request to the Hub)."""
    check_model_name(name)
    folder = clip_dir(layout) / name
    if (folder / "manifest.json").exists():
        raise ImageModelExistsError(f"an image model named '{name}' exists; choose another name")
    revision, files = repo_files(repo)
    by_name = {file.name: file for file in files}
    missing = [path for path in xenova_files(variant) if path not in by_name]
    if missing:
        raise UnsupportedLayoutError(
            f"{repo} is not a transformers.js CLIP export (like Xenova/clip-vit-base-patch32): "
            f"it lacks {', '.join(missing)}"
        )
    wanted = [*xenova_files(variant), *(p for p in OPTIONAL_FILES if p in by_name)]
    return DownloadPlan(
        repo=repo,
        revision=revision,
        files=tuple(by_name[path] for path in wanted),
        folder=folder,
        staging=layout.root / "downloads" / repo.replace("/", "--"),
    )


def download_clip(
    layout: HomeLayout,
    repo: str,
    name: str,
    listener: Listener,
    *,
    variant: Variant = "fp32",
    cancel: threading.Event | None = None,
) -> Path:
    """Fetch, verify and register the CLIP in `repo` as the image model `name`."""
    plan = plan_clip_download(layout.ensure(), repo, name, variant)
    # Its weights are loaded whole, with no context to add: the files' size is what it needs.
    check_room(plan, context=0, available=available_memory(), allow_too_big=False)
    run_download(plan, listener, cancel or threading.Event())
    for file in plan.files:  # the download puts each file by its base name: back to its path
        target = plan.folder / file.name
        if target != plan.folder / file.basename:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(plan.folder / file.basename, target)
    return register_clip_folder(layout, plan.folder, name, variant=variant)
