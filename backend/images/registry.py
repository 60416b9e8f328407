"""Which CLIP models exist: shipped folders in models/ and the user's in HEARTH_HOME/models/clip."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from backend.models.registry import UnknownModelError
from backend.paths import HomeLayout, repo_models_dir


class ImageModelInfo(BaseModel):
    """An image model Hearth can use: its name for `image_model`, and where it came from."""

    name: str
    folder: str = Field(description="The folder holding its manifest.json.")
    source: str | None = Field(
        None, description="The folder its files lie in, for a model registered from the Hub."
    )
    current: bool = Field(description="Whether it is the image model in the settings.")


def clip_dir(layout: HomeLayout) -> Path:
    return layout.models / "clip"


def clip_models(layout: HomeLayout, shipped_dir: Path | None = None) -> dict[str, Path]:
    """Name -> folder, for every folder holding a CLIP manifest; the user's win on a clash."""
    found: dict[str, Path] = {}
    for root in (shipped_dir or repo_models_dir(), clip_dir(layout)):
        for manifest in sorted(root.glob("*/manifest.json")):
            found[manifest.parent.name] = manifest.parent
    return found


def find_clip_model(layout: HomeLayout, name: str, shipped_dir: Path | None = None) -> Path:
    models = clip_models(layout, shipped_dir)
    if name not in models:
        known = ", ".join(models) or "none; convert one with 'hearth models import-clip'"
        raise UnknownModelError(f"unknown image model '{name}' (known: {known})")
    return models[name]


def describe_clip_models(layout: HomeLayout, current: str) -> list[ImageModelInfo]:
    """Every image model, the one named `current` marked (a manifest that cannot be read is
    left out here, and refused with its reason when chosen)."""
    from backend.images.clip import ClipManifest, InvalidClipModelError

    found = []
    for name, folder in clip_models(layout).items():
        try:
            source = ClipManifest.read(folder).source
        except (InvalidClipModelError, OSError):
            continue
        found.append(
            ImageModelInfo(name=name, folder=str(folder), source=source, current=name == current)
        )
    return found
