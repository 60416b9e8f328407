"""Finding and reading YAML recipes (models/recipes/*.yaml), one per trainable model.

Each decoder recipe says `kind: decoder`; other model families keep their recipes in the same
folder with their own layouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from training.errors import TrainingError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "models" / "recipes"
DECODER = "decoder"


class UnknownRecipeError(TrainingError, LookupError):
    """No recipe of that name and kind exists in models/recipes."""


class InvalidRecipeError(TrainingError, ValueError):
    """The file is not a YAML mapping of recipe settings."""


def _mapping(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRecipeError(
            f"{what} is not a YAML mapping of `key: value` settings; "
            f"it parses as {type(value).__name__!r}"
        )
    return value


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's own message spans several lines; the user gets what is wrong and where."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(exc).splitlines()[0]


def _read(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no recipe file at {path}")
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidRecipeError(f"{path} is not a text recipe: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidRecipeError(f"{path} is not valid YAML: {_yaml_problem(exc)}") from exc
    return _mapping(recipe or {}, str(path))


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
    return dict(_mapping(recipe.get(section) or {}, f"`{section}` in {path}"))
