"""Reading a GGUF's metadata with the `gguf` reader, without loading its weights.

Every file is validated here before llama.cpp ever opens it, so a truncated, foreign or hostile
file becomes a clear `InvalidGgufError`, and nothing else, instead of a native crash.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from backend.errors import InvalidRequestError
from backend.models.gguf_header import (
    MAGIC,
    GgufHeader,
    HeaderError,
    TensorInfo,
    describe_value,
    read_header,
    shorten,
)

MAX_COUNT = 1 << 32  # no real model has more layers, heads, width or context than this


class InvalidGgufError(InvalidRequestError, ValueError):
    """The file is not a complete, readable GGUF model."""

    code = "invalid_gguf"


@dataclass(frozen=True)
class GgufInfo:
    path: str
    general_name: str  # the name written inside the file
    architecture: str
    parameter_count: int
    quantization: str
    context_length: int
    chat_template: str | None
    file_size: int
    block_count: int
    embedding_length: int
    head_count: int
    head_count_kv: int
    expert_count: int
    general_type: str  # "model", or "adapter" for a LoRA GGUF

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def kv_cache_bytes(self, context: int) -> int:
        """f16 keys and values for every layer at `context` tokens."""
        head_dim = self.embedding_length // max(1, self.head_count)
        return 2 * self.block_count * context * self.head_count_kv * head_dim * 2


class _Metadata:
    """Typed reads of a header's metadata: a value of the wrong type is an InvalidGgufError."""

    def __init__(self, path: Path, values: dict[str, Any]) -> None:
        self._path, self._values = path, values

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def _wrong(self, key: str, value: Any, wanted: str) -> InvalidGgufError:
        return InvalidGgufError(
            f"{self._path} is damaged: its metadata {shorten(key)} should be {wanted}, "
            f"not {describe_value(value)}"
        )

    def text(self, key: str, default: str) -> str:
        value = self._values.get(key, default)
        if not isinstance(value, str):
            raise self._wrong(key, value, "text")
        return value

    def optional_text(self, key: str) -> str | None:
        return self.text(key, "") if key in self._values else None

    def count(self, key: str, default: int = 0, *, per_layer: bool = False) -> int:
        value = self._values.get(key, default)
        if per_layer and isinstance(value, list) and value:
            value = value[0]  # some architectures give one value per layer: the first layer's
        if type(value) is not int or not 0 <= value < MAX_COUNT:
            raise self._wrong(key, value, f"a whole number from 0 to {MAX_COUNT - 1:,}")
        return value


def _tensor_type(path: Path, tensor: TensorInfo) -> Any:
    import gguf

    try:
        return gguf.GGMLQuantizationType(tensor.ggml_type)
    except ValueError:
        raise InvalidGgufError(
            f"{path} is damaged: the tensor {shorten(tensor.name)} has the unknown type "
            f"{tensor.ggml_type:,}"
        ) from None


def _tensor_bytes(path: Path, tensor: TensorInfo) -> int:
    import gguf

    block, type_bytes = gguf.GGML_QUANT_SIZES[_tensor_type(path, tensor)]
    return math.prod(tensor.shape) * type_bytes // block


def _quantization(path: Path, header: GgufHeader, meta: _Metadata) -> str:
    import gguf

    if "general.file_type" in meta:
        file_type = meta.count("general.file_type")
        try:
            return gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_")
        except ValueError:  # a file type this gguf version does not know: the tensors tell
            pass
    counts: dict[str, int] = {}
    for tensor in header.tensors:
        kind = _tensor_type(path, tensor).name
        counts[kind] = counts.get(kind, 0) + _tensor_bytes(path, tensor)
    return max(counts, key=lambda k: counts[k]) if counts else "unknown"


def _check_complete(path: Path, header: GgufHeader, size: int) -> None:
    ends = [header.data_start + t.offset + _tensor_bytes(path, t) for t in header.tensors]
    end = max(ends, default=0)
    if end > size:
        raise InvalidGgufError(
            f"{path} is truncated: its tensors need {end:,} bytes but the file has {size:,}"
        )


def _read_header(path: Path) -> tuple[int, GgufHeader]:
    """The file's size and header; the header reader's own errors become InvalidGgufError."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if handle.read(4) != MAGIC:
            raise InvalidGgufError(f"{path} is not a GGUF file (wrong magic bytes)")
        handle.seek(0)
        try:
            return size, read_header(handle)
        except HeaderError as exc:
            raise InvalidGgufError(f"{path} is damaged or truncated: {exc}") from exc


def read_gguf_info(path: Path) -> GgufInfo:
    """Validate `path` as a GGUF and return its metadata; raises InvalidGgufError only."""
    path = Path(path)
    if not path.is_file():
        raise InvalidGgufError(f"{path} does not exist or is not a file")
    try:
        size, header = _read_header(path)
    except OSError as exc:
        raise InvalidGgufError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    _check_complete(path, header, size)
    meta = _Metadata(path, header.metadata)
    arch = meta.text("general.architecture", "unknown")

    def arch_count(key: str, default: int = 0) -> int:
        return meta.count(f"{arch}.{key}", default, per_layer=True)

    head_count = arch_count("attention.head_count")
    return GgufInfo(
        path=str(path.resolve()),
        general_name=meta.text("general.name", path.stem),
        architecture=arch,
        parameter_count=sum(math.prod(t.shape) for t in header.tensors),
        quantization=_quantization(path, header, meta),
        context_length=arch_count("context_length"),
        chat_template=meta.optional_text("tokenizer.chat_template"),
        file_size=size,
        block_count=arch_count("block_count"),
        embedding_length=arch_count("embedding_length"),
        head_count=head_count,
        head_count_kv=arch_count("attention.head_count_kv", head_count),
        expert_count=arch_count("expert_count"),
        general_type=meta.text("general.type", "model"),
    )
