"""Opening any image a user drops safely: bombs refused, EXIF honoured, every mode to RGB."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from backend.errors import InvalidRequestError

# Pillow's own default (about 89 megapixels); above it an image is treated as a bomb.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
MB = 1024 * 1024
# Room for an uncompressed 8-bit RGB image at the pixel limit (3 bytes a pixel, 256 MiB); the
# default of the max_image_bytes setting.
MAX_IMAGE_BYTES = 256 * MB
# O_NONBLOCK: opening a FIFO waits for a writer otherwise (Windows has no FIFOs, nor the flag).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageDecodeError(InvalidRequestError, ValueError):
    """The file cannot be used as an image; the message says why."""

    code = "invalid_image"


class UnsupportedImageError(ImageDecodeError):
    status = 415
    code = "unsupported_image_format"


class CorruptImageError(ImageDecodeError):
    pass


class ImageTooLargeError(ImageDecodeError):
    status = 413
    code = "image_too_large"


def too_many_bytes(name: str, size: int, limit: int = MAX_IMAGE_BYTES) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"{name} is {size / MB:,.0f} MB, over the {limit // MB} MB limit for images "
        "(max_image_bytes; raise it in Settings if the image is genuine)"
    )


_NOT_REGULAR = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse_unless_regular(mode: int, name: str) -> None:
    if not stat.S_ISREG(mode):
        kind = next((word for test, word in _NOT_REGULAR if test(mode)), "not a regular file")
        raise ImageDecodeError(f"{name} is {kind}, not an image file")


def read_image_file(path: Path, name: str | None = None, limit: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes of the image file at `path`, never more than `limit` of them.

    Anything but a regular file (a FIFO, a device such as /dev/zero, a folder) is refused
    from its stat, before it is opened; the open itself does not block, and the type and size
    are checked again on what was opened, so a file swapped in between is caught too.
    """
    name = name or str(path)
    try:
        _refuse_unless_regular(os.stat(path).st_mode, name)
        with os.fdopen(os.open(path, _OPEN_FLAGS), "rb") as file:
            status = os.fstat(file.fileno())
            _refuse_unless_regular(status.st_mode, name)
            if status.st_size > limit:
                raise too_many_bytes(name, status.st_size, limit)
            data = file.read(limit + 1)  # a file growing while it is read stops at the limit
    except FileNotFoundError as exc:
        raise ImageDecodeError(f"{name}: no such image file") from exc
    except OSError as exc:
        raise ImageDecodeError(f"{name} cannot be read: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise too_many_bytes(name, len(data), limit)
    return data


def _unsupported(data: bytes, name: str) -> UnsupportedImageError:
    kind = "HEIC/HEIF" if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS else "this file"
    return UnsupportedImageError(
        f"{name}: unsupported format ({kind} cannot be read; try PNG or JPEG)"
    )


def _bad_png_crc(data: bytes, name: str) -> CorruptImageError | None:
    """The first PNG chunk whose CRC does not match its bytes, if any. Pillow reports one in
    the header as "cannot identify image file" and one after it as a broken data stream."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    view, at = memoryview(data), len(PNG_SIGNATURE)
    while at + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, at)
        end = at + 8 + length  # where the chunk's CRC (of its type and data) starts
        if end + 4 > len(data):
            return None  # cut short: Pillow's own message says truncated
        kind = bytes(view[at + 4 : at + 8])
        if zlib.crc32(view[at + 4 : end]) != struct.unpack_from(">I", data, end)[0]:
            return CorruptImageError(
                f"{name}: corrupt PNG: bad CRC in chunk {kind.decode('latin-1')!r} at byte "
                f"{at:,} (the file is damaged)"
            )
        if kind == b"IEND":
            return None
        at = end + 4
    return None


def open_image(
    source: Path | bytes,
    name: str | None = None,
    at_least: int = 0,
    limit: int = MAX_IMAGE_BYTES,
) -> Image.Image:
    """Decode the first frame of `source` as an RGB image, or raise ImageDecodeError.

    With `at_least`, a JPEG may be decoded at a reduced scale whose sides stay at least that
    long: several times faster, for callers that shrink the image anyway. `limit` is the
    max_image_bytes setting.
    """
    name = name or (str(source) if isinstance(source, Path) else "image")
    data = read_image_file(source, name, limit) if isinstance(source, Path) else source
    if len(data) > limit:
        raise too_many_bytes(name, len(data), limit)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if at_least:
                image.draft("RGB", (at_least, at_least))
            image.load()  # decodes the first frame of an animation
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLargeError(
                f"{name} is too large to decode safely (over {MAX_PIXELS:,} pixels)"
            ) from exc
        except UnidentifiedImageError as exc:
            raise _bad_png_crc(data, name) or _unsupported(data, name) from exc
        except (OSError, SyntaxError, ValueError) as exc:
            damaged = CorruptImageError(f"{name} is damaged or truncated: {exc}")
            raise _bad_png_crc(data, name) or damaged from exc
    return to_rgb(ImageOps.exif_transpose(image))


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: deep images rescaled, CMYK converted, transparency laid on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(pixels.max()), 1.0)
        image = Image.fromarray(np.clip(pixels / top * 255.0, 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", image.size, "white")
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    return image.convert("RGB")
