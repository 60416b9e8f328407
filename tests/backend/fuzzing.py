"""A small seeded mutation fuzzer for Hearth's readers of untrusted files (#18): mutators that
work on any bytes, a runner that counts what each case ended in, and a peak-RSS probe."""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

Mutator = Callable[[bytes, random.Random], bytes]
MB = 1024 * 1024
# Values that break size arithmetic: the largest of each width, signed and not, and zero.
HUGE = (0, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x10000000, 1 << 20)


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    """One to eight bytes set to random values."""
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        mutated[rng.randrange(len(mutated))] = rng.randrange(256)
    return bytes(mutated)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def duplicate_slice(data: bytes, rng: random.Random) -> bytes:
    """A random stretch of the file copied to a random place: repeated structures."""
    start = rng.randrange(len(data))
    piece = data[start : start + rng.randint(1, 512)]
    at = rng.randrange(len(data))
    return data[:at] + piece + data[at:]


def huge_number(data: bytes, rng: random.Random) -> bytes:
    """A 4-byte field somewhere overwritten with a size that cannot be honoured."""
    at = rng.randrange(max(1, len(data) - 4))
    value = rng.choice(HUGE)
    return data[:at] + struct.pack(rng.choice((">I", "<I")), value) + data[at + 4 :]


def swap_parts(parts: Sequence[bytes], rng: random.Random) -> list[bytes]:
    """The parts with two of them exchanged (the same list when there are fewer than two)."""
    swapped = list(parts)
    if len(swapped) > 1:
        i, j = rng.sample(range(len(swapped)), 2)
        swapped[i], swapped[j] = swapped[j], swapped[i]
    return swapped


BYTE_MUTATORS: dict[str, Mutator] = {
    "flip bytes": flip_bytes,
    "truncate": truncate,
    "duplicate a slice": duplicate_slice,
    "huge number": huge_number,
}


def _resident_kb(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise LookupError(field_name)


@dataclass
class PeakRss:
    """How many MB the process's peak resident memory rose above where it stood at the start."""

    growth_mb: float = 0.0


@contextmanager
def peak_rss_growth() -> Iterator[PeakRss]:
    """Measure the peak RSS of the block. Linux resets the process's high-water mark when "5"
    is written to /proc/self/clear_refs, so the peak is this block's own, not that of whatever
    test ran before it in this process."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _resident_kb("VmRSS")
    measured = PeakRss()
    try:
        yield measured
    finally:
        # Not getrusage's ru_maxrss: after a fork and exec it keeps the parent's peak.
        measured.growth_mb = max(0, _resident_kb("VmHWM") - before) / 1024


@dataclass
class FuzzReport:
    kind: str
    cases: int = 0
    clean_errors: int = 0
    successes: int = 0
    crashes: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    seconds: float = 0.0
    slowest: tuple[float, str] = (0.0, "")

    def line(self) -> str:
        return (
            f"{self.kind}: {self.cases} cases, {self.clean_errors} clean errors, "
            f"{self.successes} successes, {len(self.crashes)} crashes, peak RSS "
            f"+{self.peak_rss_mb:.0f} MB, {self.seconds:.1f} s (slowest: {self.slowest[1]}, "
            f"{self.slowest[0]:.2f} s)"
        )


def fuzz(
    kind: str,
    seeds: Sequence[bytes],
    mutators: dict[str, Mutator],
    cases: int,
    read: Callable[[Path], object],
    path: Path,
    clean: tuple[type[BaseException], ...],
) -> FuzzReport:
    """Write `cases` mutants of the seeds to `path` and `read` each: it must return, or raise
    one of the `clean` errors; anything else is recorded as a crash with how to reproduce it."""
    rng = random.Random(f"hearth-fuzz-{kind}")
    report = FuzzReport(kind, cases)
    started = time.perf_counter()
    with peak_rss_growth() as peak:
        for case in range(cases):
            name = rng.choice(list(mutators))
            data = mutators[name](rng.choice(seeds), rng)
            path.write_bytes(data)
            began = time.perf_counter()
            try:
                read(path)
                report.successes += 1
            except clean:
                report.clean_errors += 1
            except Exception as exc:  # anything else is what the fuzzer exists to catch
                report.crashes.append(f"case {case} ({name}): {type(exc).__name__}: {exc}"[:300])
                path.with_name(f"crash-{case}{path.suffix}").write_bytes(data)  # to reproduce
            took = time.perf_counter() - began
            report.slowest = max(report.slowest, (took, f"case {case} ({name})"))
    report.seconds = time.perf_counter() - started
    report.peak_rss_mb = peak.growth_mb
    return report
