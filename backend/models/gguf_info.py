"""Reading a GGUF's metadata with the `gguf` reader, without loading its weights.

Every file is validated here before llama.cpp ever opens it, so a truncated or foreign file
becomes a clear `InvalidGgufError` instead of a native crash.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from backend.models.gguf_header import GgufHeader, HeaderError, TensorInfo, read_header

GGUF_MAGIC = b"GGUF"


class InvalidGgufError(ValueError):
    """The file is not a complete, readable GGUF model."""


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


def _tensor_bytes(tensor: TensorInfo) -> int:
    import gguf

    block, type_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(tensor.ggml_type)]
    return math.prod(tensor.shape) * type_bytes // block


def _quantization(header: GgufHeader) -> str:
    import gguf

    file_type = header.metadata.get("general.file_type")
    if file_type is not None:
        try:
            return gguf.LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_")
        except ValueError:
            pass
    counts: dict[str, int] = {}
    for tensor in header.tensors:
        kind = gguf.GGMLQuantizationType(tensor.ggml_type).name
        counts[kind] = counts.get(kind, 0) + _tensor_bytes(tensor)
    return max(counts, key=lambda k: counts[k]) if counts else "unknown"


def _check_complete(path: Path, header: GgufHeader, size: int) -> None:
    try:
        ends = [header.data_start + t.offset + _tensor_bytes(t) for t in header.tensors]
    except ValueError as exc:  # a tensor type this version does not know
        raise InvalidGgufError(f"{path} is damaged: {exc}") from exc
    end = max(ends, default=0)
    if end > size:
        raise InvalidGgufError(
            f"{path} is truncated: its tensors need {end:,} bytes but the file has {size:,}"
        )


def read_gguf_info(path: Path) -> GgufInfo:
    """Validate `path` as a GGUF and return its metadata; raises InvalidGgufError."""
    path = Path(path)
    if not path.is_file():
        raise InvalidGgufError(f"{path} does not exist or is not a file")
    size = path.stat().st_size
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise InvalidGgufError(f"{path} is not a GGUF file (wrong magic bytes)")
        handle.seek(0)
        try:
            header = read_header(handle)
        except HeaderError as exc:
            raise InvalidGgufError(f"{path} is damaged or truncated: {exc}") from exc
    _check_complete(path, header, size)
    meta = header.metadata
    arch = str(meta.get("general.architecture", "unknown"))

    def arch_int(key: str, default: int = 0) -> int:
        value = meta.get(f"{arch}.{key}", default)
        return int(value[0] if isinstance(value, list) else value)

    head_count = arch_int("attention.head_count")
    return GgufInfo(
        path=str(path.resolve()),
        general_name=str(meta.get("general.name", path.stem)),
        architecture=arch,
        parameter_count=sum(math.prod(t.shape) for t in header.tensors),
        quantization=_quantization(header),
        context_length=arch_int("context_length"),
        chat_template=meta.get("tokenizer.chat_template"),
        file_size=size,
        block_count=arch_int("block_count"),
        embedding_length=arch_int("embedding_length"),
        head_count=head_count,
        head_count_kv=arch_int("attention.head_count_kv", head_count),
        expert_count=arch_int("expert_count"),
        general_type=str(meta.get("general.type", "model")),
    )
