"""Mutated PNG and JPEG files through Hearth's image decoder end in success or ImageDecodeError,
never another exception, with memory bounded (#18): byte flips, truncations, chunk and segment
swaps, chunks corrupted under a valid CRC, and huge declared dimensions."""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.images.decode import ImageDecodeError, open_image
from tests.backend.fuzzing import BYTE_MUTATORS, HUGE, FuzzReport, Mutator, fuzz, swap_parts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow may build a full-size image before it finds the data missing: up to its 89-megapixel
# bomb limit, 4 bytes a pixel, and a converted copy. Anything past this was read unbounded.
PEAK_RSS_BOUND_MB = 1024


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def gradient(mode: str, size: tuple[int, int] = (48, 32)) -> Image.Image:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB").convert(mode)


def png_seeds() -> list[bytes]:
    deep = Image.fromarray(np.arange(48 * 32, dtype=np.uint16).reshape(32, 48) * 40)
    return [
        encoded(gradient("RGB"), "PNG"),
        encoded(gradient("RGBA"), "PNG"),
        encoded(gradient("P"), "PNG", transparency=0),
        encoded(gradient("L"), "PNG", optimize=True),
        encoded(deep, "PNG"),
    ]


def jpeg_seeds() -> list[bytes]:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated, as phones write it
    return [
        encoded(gradient("RGB"), "JPEG", quality=80),
        encoded(gradient("RGB"), "JPEG", progressive=True, exif=exif.tobytes()),
        encoded(gradient("L"), "JPEG"),
        encoded(gradient("CMYK"), "JPEG"),
    ]


# PNG: a signature, then chunks of length, type, data and a CRC over type and data.


def png_chunks(data: bytes) -> list[bytes]:
    chunks, at = [], len(PNG_SIGNATURE)
    while at + 8 <= len(data):
        length = struct.unpack_from(">I", data, at)[0]
        chunks.append(data[at : at + 12 + length])
        at += 12 + length
    return chunks


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def swap_png_chunks(data: bytes, rng: random.Random) -> bytes:
    return PNG_SIGNATURE + b"".join(swap_parts(png_chunks(data), rng))


def corrupt_under_valid_crc(data: bytes, rng: random.Random) -> bytes:
    """A chunk's data flipped and its CRC made right again, so the decoder reads it."""
    chunks = png_chunks(data)
    i = rng.randrange(len(chunks))
    kind, body = chunks[i][4:8], bytearray(chunks[i][8:-4])
    for _ in range(rng.randint(1, 4) if body else 0):
        body[rng.randrange(len(body))] = rng.randrange(256)
    chunks[i] = png_chunk(kind, bytes(body))
    return PNG_SIGNATURE + b"".join(chunks)


def huge_png_dimensions(data: bytes, rng: random.Random) -> bytes:
    """IHDR declaring a width or height the data cannot fill, under a valid CRC."""
    chunks = png_chunks(data)
    body = bytearray(chunks[0][8:-4])
    struct.pack_into(">I", body, rng.choice((0, 4)), rng.choice((*HUGE, 9000, 40000)))
    chunks[0] = png_chunk(b"IHDR", bytes(body))
    return PNG_SIGNATURE + b"".join(chunks)


PNG_MUTATORS: dict[str, Mutator] = {
    **BYTE_MUTATORS,
    "swap chunks": swap_png_chunks,
    "corrupt a chunk under a valid CRC": corrupt_under_valid_crc,
    "huge dimensions": huge_png_dimensions,
}


# JPEG: markers (0xFF, kind), most followed by a 2-byte length; the scan data runs to the end.


def jpeg_segments(data: bytes) -> tuple[list[bytes], bytes]:
    """The header segments after SOI, and the rest from the first scan (SOS) on."""
    segments, at = [], 2
    while at + 4 <= len(data) and data[at + 1] != 0xDA:
        length = struct.unpack_from(">H", data, at + 2)[0]
        segments.append(data[at : at + 2 + length])
        at += 2 + length
    return segments, data[at:]


def swap_jpeg_segments(data: bytes, rng: random.Random) -> bytes:
    segments, scan = jpeg_segments(data)
    return data[:2] + b"".join(swap_parts(segments, rng)) + scan


def huge_jpeg_dimensions(data: bytes, rng: random.Random) -> bytes:
    """The frame header (SOF0 or SOF2) declaring a height or width of up to 65535."""
    segments, scan = jpeg_segments(data)
    for i, segment in enumerate(segments):
        if segment[1] in (0xC0, 0xC2):
            frame = bytearray(segment)
            struct.pack_into(">H", frame, rng.choice((5, 7)), rng.choice((0, 1, 65535, 30000)))
            segments[i] = bytes(frame)
    return data[:2] + b"".join(segments) + scan


JPEG_MUTATORS: dict[str, Mutator] = {
    **BYTE_MUTATORS,
    "swap segments": swap_jpeg_segments,
    "huge dimensions": huge_jpeg_dimensions,
}


def read_as_indexing_and_chat_do(path: Path) -> None:
    """Indexing decodes a JPEG at reduced scale; a chat attachment decodes it whole."""
    open_image(path, at_least=64)
    open_image(path)


KINDS = {  # kind: (seeds, mutators, cases, file suffix)
    "PNG": (png_seeds, PNG_MUTATORS, 400, ".png"),
    "JPEG": (jpeg_seeds, JPEG_MUTATORS, 300, ".jpg"),
}


def check(report: FuzzReport) -> None:
    print("\n" + report.line())
    assert not report.crashes, "\n".join(report.crashes[:10])
    assert report.clean_errors > report.cases // 10 and report.successes > 0, report.line()
    assert report.peak_rss_mb < PEAK_RSS_BOUND_MB, report.line()


@pytest.mark.parametrize("kind", KINDS)
def test_mutated_images_decode_or_fail_cleanly(kind: str, tmp_path: Path) -> None:
    seeds, mutators, cases, suffix = KINDS[kind]
    report = fuzz(
        kind,
        seeds(),
        mutators,
        cases,
        read_as_indexing_and_chat_do,
        tmp_path / f"mutated{suffix}",
        (ImageDecodeError,),
    )
    check(report)
