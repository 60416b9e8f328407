"""A fast reader of a GGUF's header: metadata and tensor table, without its weights.

The `gguf` package's reader decodes every value, including the tokenizer's 50k-string arrays,
which takes seconds; this one skips long arrays, so listing models stays instant.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
LONG_ARRAY = 64  # arrays longer than this (token lists, merges) are skipped, not decoded
SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
STRING, ARRAY = 8, 9


class HeaderError(ValueError):
    """The bytes do not form a GGUF header (damaged, truncated or another format)."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int  # from the start of the data section


@dataclass(frozen=True)
class GgufHeader:
    metadata: dict[str, Any]  # long arrays appear as their length only
    tensors: list[TensorInfo]
    data_start: int


class _Stream:
    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def take(self, size: int) -> bytes:
        data = self._handle.read(size)
        if len(data) != size:
            raise HeaderError("the header ends early")
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.take(self.unpack("<Q")).decode("utf-8", "replace")

    def skip_string(self) -> None:
        self._handle.seek(self.unpack("<Q"), 1)

    def value(self, kind: int) -> Any:
        if kind in SCALARS:
            return self.unpack(SCALARS[kind])
        if kind == STRING:
            return self.string()
        if kind == ARRAY:
            return self.array()
        raise HeaderError(f"unknown metadata type {kind}")

    def array(self) -> Any:
        kind, count = self.unpack("<I"), self.unpack("<Q")
        if count <= LONG_ARRAY:
            return [self.value(kind) for _ in range(count)]
        if kind == STRING:
            for _ in range(count):
                self.skip_string()
        elif kind in SCALARS:
            self._handle.seek(count * struct.calcsize(SCALARS[kind]), 1)
        else:
            raise HeaderError("nested long arrays are not GGUF metadata")
        return count

    @property
    def position(self) -> int:
        return self._handle.tell()


def read_header(handle: BinaryIO) -> GgufHeader:
    stream = _Stream(handle)
    if stream.take(4) != MAGIC:
        raise HeaderError("wrong magic bytes")
    version = stream.unpack("<I")
    if version not in (2, 3):
        raise HeaderError(f"GGUF version {version} is not supported")
    tensor_count, kv_count = stream.unpack("<Q"), stream.unpack("<Q")
    metadata = {}
    for _ in range(kv_count):
        key = stream.string()
        metadata[key] = stream.value(stream.unpack("<I"))
    tensors = []
    for _ in range(tensor_count):
        name = stream.string()
        shape = tuple(stream.unpack("<Q") for _ in range(stream.unpack("<I")))
        tensors.append(TensorInfo(name, shape, stream.unpack("<I"), stream.unpack("<Q")))
    alignment = int(metadata.get("general.alignment", DEFAULT_ALIGNMENT))
    data_start = -(-stream.position // alignment) * alignment
    return GgufHeader(metadata, tensors, data_start)
