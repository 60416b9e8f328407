"""A model's metadata together with its memory estimate, as the CLI and API show it."""

from __future__ import annotations

from typing import Any

from backend.models.memory import estimate_memory
from backend.models.registry import ModelEntry
from backend.settings import Settings


def describe_model(entry: ModelEntry, settings: Settings, available: int) -> dict[str, Any]:
    context = min(settings.context_size, entry.info.context_length or settings.context_size)
    estimate = estimate_memory(entry.info, context, available)
    return entry.to_dict() | {
        "memory": {
            "context": context,
            "weights_bytes": estimate.weights,
            "kv_cache_bytes": estimate.kv_cache,
            "total_bytes": estimate.total,
            "available_bytes": estimate.available,
            "fits": estimate.fits,
        }
    }
