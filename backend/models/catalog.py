"""The curated catalog of models worth downloading (models/catalog.json, data not code), and how
each would fit this machine's memory."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from backend.errors import NotFoundError
from backend.paths import repo_models_dir
from backend.wire import CatalogEntry, CatalogFit, CatalogModel, FitBadge

CATALOG_FILE = "catalog.json"
ROOMY = 1.5  # RAM available at least this many times the minimum: it runs well


class UnknownCatalogModelError(NotFoundError):
    code = "catalog_model_not_found"


class Catalog(BaseModel):
    """The file's schema: a note on where the numbers come from, and the models."""

    note: str
    models: list[CatalogModel]


def load_catalog(path: Path | None = None) -> Catalog:
    path = path if path is not None else repo_models_dir() / CATALOG_FILE
    return Catalog.model_validate(json.loads(path.read_text(encoding="utf-8")))


def fit_badge(min_ram: int, available: int) -> FitBadge:
    if available >= ROOMY * min_ram:
        return "runs well"
    return "tight" if available >= min_ram else "too big"


def catalog_entries(catalog: Catalog, available: int) -> list[CatalogEntry]:
    return [
        CatalogEntry(
            model=model,
            vision=model.vision,
            fit=CatalogFit(
                badge=fit_badge(model.min_ram_bytes, available),
                min_ram_bytes=model.min_ram_bytes,
                available_bytes=available,
            ),
        )
        for model in catalog.models
    ]


def find_in_catalog(catalog: Catalog, model_id: str) -> CatalogModel:
    for model in catalog.models:
        if model.id.lower() == model_id.lower():
            return model
    known = ", ".join(m.id for m in catalog.models)
    raise UnknownCatalogModelError(
        f"{model_id!r} is neither a repo id (owner/name) nor a catalog model ({known})"
    )
