"""Finding and reading YAML recipes (models/recipes/*.yaml), one per trainable model.

Each decoder recipe says `kind: decoder`; other model families keep their recipes in the same
folder with their own layouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

RECIPES_DIR = Path(__file__).resolve().parent.parent / "models" / "recipes"
DECODER = "decoder"


class UnknownRecipeError(LookupError):
    """No recipe of that name and kind exists in models/recipes."""


def _read(path: Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def recipe_names(kind: str = DECODER) -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml") if _read(p).get("kind") == kind)


def recipe_path(name: str, kind: str = DECODER) -> Path:
    path = RECIPES_DIR / f"{name}.yaml"
    if not path.is_file() or _read(path).get("kind") != kind:
        known = ", ".join(recipe_names(kind)) or "none"
        raise UnknownRecipeError(f"no {kind} recipe named {name!r}; known: {known}")
    return path


def read_section(path: Path, section: str, kind: str = DECODER) -> dict[str, Any]:
    """One top-level mapping of a recipe file, e.g. its `model` or `train` settings."""
    recipe = _read(path)
    if recipe.get("kind") != kind:
        raise UnknownRecipeError(f"{path} is not a {kind} recipe (it lacks `kind: {kind}`)")
    return dict(recipe.get(section) or {})
