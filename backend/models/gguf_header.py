"""A fast, defensive reader of a GGUF's header: metadata and tensor table, without its weights.

The `gguf` package's reader decodes every value, including the tokenizer's 50k-string arrays,
which takes seconds; this one skips long arrays, so listing models stays instant. A models
folder may hold any file, so every count, length, type and nesting depth is checked against
the bytes left in the file and the limits below before anything is read or allocated: a hostile
header ends in `HeaderError` saying what is wrong and at which byte, never another exception.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
LONG_ARRAY = 64  # longer string arrays (token lists, merges) are skipped, not decoded
LONG_NUMBER_ARRAY = 4096  # number arrays up to this long (per-layer values) are decoded

# Far above any real model, so that no header can make the reader allocate or loop beyond them.
MAX_NAME_BYTES = 65_535  # a key or a tensor name (the GGUF spec's limit for keys)
MAX_STRING_BYTES = 64 * 1024**2  # one metadata string; chat templates are about 10 kB
MAX_KEYS = 65_536  # real models have about 50
MAX_TENSORS = 1 << 20  # real models have a few thousand
MAX_ARRAY_ITEMS = 1 << 22  # vocabularies and merge lists hold a few 100k
MAX_NESTING = 8  # arrays inside arrays; real files nest at most once
MAX_DIMS = 4  # ggml's GGML_MAX_DIMS
MAX_ALIGNMENT = 1 << 31  # general.alignment is a uint32 power of two

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
# The fewest bytes one value of each type takes: what a count is checked against.
MIN_BYTES = {kind: struct.calcsize(fmt) for kind, fmt in SCALARS.items()} | {
    STRING: 8,  # its length
    ARRAY: 12,  # its item type and count
}
KEY_MIN_BYTES = 8 + 4 + 1  # key length, value type, the smallest value
TENSOR_MIN_BYTES = 8 + 4 + 4 + 8  # name length, dimension count, type, offset
SKIP_CHUNK = 1 << 20  # string arrays are skipped by walking their lengths in chunks this big


class HeaderError(ValueError):
    """The bytes do not form a GGUF header (damaged, truncated or another format)."""


@dataclass(frozen=True)
class SkippedArray:
    """A long array (a token list, merges, scores) known by its item type and length only."""

    item_type: int
    count: int


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int  # from the start of the data section


@dataclass(frozen=True)
class GgufHeader:
    metadata: dict[str, Any]  # long arrays appear as SkippedArray
    tensors: list[TensorInfo]
    data_start: int


def describe_value(value: Any) -> str:
    """A metadata value as an error message shows it: its kind, and the value if short."""
    if isinstance(value, SkippedArray | list):
        count = value.count if isinstance(value, SkippedArray) else len(value)
        return f"an array of {count:,} items" if count else "an empty array"
    if isinstance(value, str):
        return f"the text {shorten(value)}"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    return f"the number {value}"


def shorten(text: str, limit: int = 60) -> str:
    """`text` quoted and cut to `limit` characters: names in messages may be long or odd."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


@functools.cache
def _layout(fmt: str) -> struct.Struct:
    return struct.Struct(fmt)


class _Stream:
    """Reads from the handle's position on, refusing any read past the end of the file.

    It counts the position itself: asking the file (`tell`) costs a system call per field.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.position = handle.tell()
        self._size = handle.seek(0, 2)
        handle.seek(self.position)

    @property
    def remaining(self) -> int:
        return self._size - self.position

    def take(self, size: int) -> bytes:
        if self.position + size > self._size:
            raise HeaderError(
                f"the header ends early: {size:,} bytes are needed at byte {self.position:,} "
                f"but the file has {self._size:,}"
            )
        data = self._handle.read(size)
        if len(data) != size:  # the file shrank while it was read
            raise HeaderError(f"the header ends early at byte {self.position:,}")
        self.position += size
        return data

    def unpack(self, fmt: str) -> Any:
        layout = _layout(fmt)
        return layout.unpack(self.take(layout.size))[0]

    def count(self, what: str, limit: int, min_bytes: int) -> int:
        """A uint64 count of items that each take at least `min_bytes`, checked before use."""
        at = self.position
        count: int = self.unpack("<Q")
        if count > limit:
            raise HeaderError(f"{what} at byte {at:,} is {count:,}; the limit is {limit:,}")
        if count * min_bytes > self.remaining:
            raise HeaderError(
                f"the header ends early: {what} at byte {at:,} is {count:,}, which needs at "
                f"least {count * min_bytes:,} bytes, but only {self.remaining:,} remain"
            )
        return count

    def string(self, what: str, limit: int) -> str:
        length = self.count(f"the length of {what}", limit, 1)
        return self.take(length).decode("utf-8", "replace")

    def typed_value(self, depth: int = 0) -> Any:
        at = self.position
        kind = self.unpack("<I")
        if kind not in MIN_BYTES:
            raise HeaderError(f"unknown value type {kind:,} at byte {at:,}")
        return self.value(kind, depth)

    def value(self, kind: int, depth: int) -> Any:
        if kind == STRING:
            return self.string("a string", MAX_STRING_BYTES)
        if kind == ARRAY:
            return self.array(depth + 1)
        return self.unpack(SCALARS[kind])

    def array(self, depth: int) -> Any:
        at = self.position
        if depth > MAX_NESTING:
            raise HeaderError(f"arrays are nested more than {MAX_NESTING} deep at byte {at:,}")
        kind = self.unpack("<I")
        if kind not in MIN_BYTES:
            raise HeaderError(f"unknown array item type {kind:,} at byte {at:,}")
        count = self.count("an array's length", MAX_ARRAY_ITEMS, MIN_BYTES[kind])
        if kind in SCALARS and count <= LONG_NUMBER_ARRAY:
            items = self.take(count * MIN_BYTES[kind])
            return list(struct.unpack(f"<{count}{SCALARS[kind][1]}", items))
        if count <= LONG_ARRAY:
            return [self.value(kind, depth) for _ in range(count)]
        if kind == ARRAY:
            raise HeaderError(f"a long array of arrays at byte {at:,} is not GGUF metadata")
        if kind == STRING:
            self.skip_strings(count)
        else:
            self.skip(count * MIN_BYTES[kind])
        return SkippedArray(kind, count)

    def skip(self, size: int) -> None:
        """Skip `size` bytes, which must lie within the file."""
        if size > self.remaining:
            raise HeaderError(f"the header ends early: {size:,} bytes from byte {self.position:,}")
        self.position += size
        self._handle.seek(self.position)

    def skip_strings(self, count: int) -> None:
        """Step over `count` strings, reading their lengths from chunks rather than one by one."""
        base, chunk, at = self.position, b"", 0
        for _ in range(count):
            if at + 8 > len(chunk):
                base += at
                self._handle.seek(base)
                chunk, at = self._handle.read(min(SKIP_CHUNK, self._size - base)), 0
                if len(chunk) < 8:
                    raise HeaderError(f"the header ends early in a string array at byte {base:,}")
            length = struct.unpack_from("<Q", chunk, at)[0]
            if length > MAX_STRING_BYTES or base + at + 8 + length > self._size:
                raise HeaderError(
                    f"a string in an array at byte {base + at:,} is {length:,} bytes long; "
                    f"the file has {self._size:,} and the limit is {MAX_STRING_BYTES:,}"
                )
            at += 8 + length
        self.position = base + at
        self._handle.seek(self.position)


def _read_metadata(stream: _Stream, count: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for _ in range(count):
        at = stream.position
        key = stream.string("a key", MAX_NAME_BYTES)
        if key in metadata:
            raise HeaderError(f"the key {shorten(key)} at byte {at:,} appears twice")
        try:
            metadata[key] = stream.typed_value()
        except HeaderError as exc:
            raise HeaderError(f"{exc} (in the value of {shorten(key)})") from exc
    return metadata


def _read_tensor(stream: _Stream) -> TensorInfo:
    at = stream.position
    name = stream.string("a tensor name", MAX_NAME_BYTES)
    dims = stream.unpack("<I")
    if dims > MAX_DIMS:
        raise HeaderError(
            f"the tensor {shorten(name)} at byte {at:,} has {dims:,} dimensions; "
            f"ggml allows {MAX_DIMS}"
        )
    # The shape, the ggml type and the data offset in one read: models have 1000s of tensors.
    *shape, ggml_type, offset = struct.unpack(f"<{dims}QIQ", stream.take(8 * dims + 12))
    return TensorInfo(name, tuple(shape), ggml_type, offset)


def _alignment(metadata: dict[str, Any]) -> int:
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if (
        type(alignment) is not int
        or not 0 < alignment <= MAX_ALIGNMENT
        or alignment & (alignment - 1)
    ):
        raise HeaderError(
            f"general.alignment is {describe_value(alignment)}; "
            f"it must be a power of two up to {MAX_ALIGNMENT:,}"
        )
    return alignment


def read_header(handle: BinaryIO) -> GgufHeader:
    """The header from the handle's position; raises HeaderError and nothing else on bad bytes."""
    stream = _Stream(handle)
    if stream.remaining < 4 or stream.take(4) != MAGIC:
        raise HeaderError("wrong magic bytes")
    version = stream.unpack("<I")
    if version not in (2, 3):
        raise HeaderError(f"GGUF version {version:,} is not supported")
    tensor_count = stream.count("the tensor count", MAX_TENSORS, TENSOR_MIN_BYTES)
    kv_count = stream.count("the key count", MAX_KEYS, KEY_MIN_BYTES)
    metadata = _read_metadata(stream, kv_count)
    tensors = [_read_tensor(stream) for _ in range(tensor_count)]
    alignment = _alignment(metadata)
    data_start = -(-stream.position // alignment) * alignment
    return GgufHeader(metadata, tensors, data_start)
