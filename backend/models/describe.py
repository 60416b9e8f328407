"""A model's metadata together with its memory estimate, as the CLI and API show it."""

from __future__ import annotations

from backend.models.memory import estimate_memory
from backend.models.registry import ModelEntry
from backend.settings import Settings
from backend.wire import MemoryFit, ModelDescription


def describe_model(entry: ModelEntry, settings: Settings, available: int) -> ModelDescription:
    context = entry.context_size(settings.context_size)
    estimate = estimate_memory(entry.info, context, available)
    memory = MemoryFit(
        context=context,
        weights_bytes=estimate.weights,
        kv_cache_bytes=estimate.kv_cache,
        total_bytes=estimate.total,
        available_bytes=estimate.available,
        fits=estimate.fits,
    )
    return ModelDescription.model_validate(entry.to_dict() | {"memory": memory})
