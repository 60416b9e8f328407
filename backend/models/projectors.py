"""Pairing a chat model with the vision projector (mmproj GGUF) that lies beside it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def is_projector(path: Path) -> bool:
    return "mmproj" in path.name.lower()


def pair_projector(model: Path, projectors: Sequence[Path], models: int) -> Path | None:
    """The projector among `projectors` (the model's folder's, sorted) named after `model`, or
    the folder's only one when `model` is its only chat model (`models` counts them).

    `foo.gguf` pairs with `foo-mmproj*.gguf`, `foo.mmproj*.gguf` or `mmproj-foo*.gguf`.
    """
    stem = model.stem.lower()
    for projector in projectors:
        name = projector.stem.lower()
        after = name.removeprefix("mmproj-") if name.startswith("mmproj-") else None
        if name.startswith((f"{stem}-mmproj", f"{stem}.mmproj", f"{stem}_mmproj")) or (
            after is not None and (after == stem or after.startswith((f"{stem}-", f"{stem}_")))
        ):
            return projector
    return projectors[0] if len(projectors) == 1 and models == 1 else None


def find_projector(model: Path) -> Path | None:
    """The mmproj GGUF beside `model`: named after it, or the folder's only one."""
    files = list(model.parent.glob("*.gguf"))
    projectors = sorted(p for p in files if is_projector(p))
    return pair_projector(model, projectors, sum(not is_projector(p) for p in files))
