"""Hearth's model routes: metadata, memory fit, imports by path and per-model settings."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request

from backend.models.describe import describe_model
from backend.models.memory import available_memory
from backend.server.routes.openai import services
from backend.server.schemas import ImportModel
from backend.wire import ModelDescription, ModelSettings

router = APIRouter(prefix="/hearth/models", tags=["models"])


@router.get("")
def list_models(request: Request) -> list[ModelDescription]:
    svc = services(request)
    available = available_memory()
    return [describe_model(e, svc.settings, available) for e in svc.registry.list()]


@router.get("/{name}")
def model_info(name: str, request: Request) -> ModelDescription:
    svc = services(request)
    return describe_model(svc.registry.get(name), svc.settings, available_memory())


@router.patch("/{name}/settings")
def update_model_settings(name: str, body: ModelSettings, request: Request) -> ModelDescription:
    """Change the fields given (null restores the global setting); applied at the next load."""
    svc = services(request)
    entry = svc.registry.update_settings(name, body.model_dump(exclude_unset=True))
    return describe_model(entry, svc.settings, available_memory())


@router.post("/import", status_code=201)
def import_model(body: ImportModel, request: Request) -> ModelDescription:
    svc = services(request)
    entry = svc.registry.import_gguf(Path(body.path), body.name)
    return describe_model(entry, svc.settings, available_memory())
