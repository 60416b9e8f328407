"""Will a model fit? Weights plus KV cache at the chosen context, against available RAM."""

from __future__ import annotations

from dataclasses import dataclass

from backend.errors import InvalidRequestError
from backend.models.gguf_info import GgufInfo

GIB = 1024**3
# llama.cpp's compute buffers and runtime overhead beyond weights and KV cache.
OVERHEAD_BYTES = 256 * 1024**2


class ModelTooLargeError(InvalidRequestError):
    """Loading this model would exhaust memory."""

    code = "model_too_large"


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    kv_cache: int
    available: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + OVERHEAD_BYTES

    @property
    def fits(self) -> bool:
        return self.total <= self.available


def available_memory() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def estimate_memory(info: GgufInfo, context: int, available: int | None = None) -> MemoryEstimate:
    return MemoryEstimate(
        weights=info.file_size,
        kv_cache=info.kv_cache_bytes(context),
        available=available_memory() if available is None else available,
    )


def ensure_fits(name: str, estimate: MemoryEstimate, context: int) -> None:
    if not estimate.fits:
        raise ModelTooLargeError(
            f"model '{name}' needs about {estimate.total / GIB:.1f} GiB "
            f"({estimate.weights / GIB:.1f} GiB weights + {estimate.kv_cache / GIB:.1f} GiB "
            f"KV cache at {context} tokens) but only {estimate.available / GIB:.1f} GiB of RAM "
            "is available; choose a smaller model or a shorter context"
        )
