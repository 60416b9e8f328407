"""Every kind of image a user might drop: odd modes, rotations, animations, and bad files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.images.decode import (
    CorruptImageError,
    ImageTooLargeError,
    UnsupportedImageError,
    open_image,
)


def saved(image: Image.Image, path: Path, **options: object) -> Path:
    image.save(path, **options)
    return path


def test_sixteen_bit_greyscale_is_rescaled(tmp_path: Path) -> None:
    deep = Image.fromarray(np.full((8, 8), 65535 // 2, dtype=np.uint16))
    image = open_image(saved(deep, tmp_path / "deep.png"))
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (127, 127, 127)


def test_cmyk_becomes_rgb(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in print colours
    image = open_image(saved(cmyk, tmp_path / "print.jpg", quality=95))
    red, green, blue = image.getpixel((4, 4))
    assert image.mode == "RGB" and red > 200 and green < 60 and blue < 60


def test_palette_and_transparency_are_laid_on_white(tmp_path: Path) -> None:
    clear = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    clear.paste((0, 0, 255, 255), (0, 0, 4, 8))
    image = open_image(saved(clear, tmp_path / "alpha.png"))
    assert image.getpixel((1, 1)) == (0, 0, 255) and image.getpixel((6, 6)) == (255, 255, 255)
    palette = Image.new("P", (8, 8), 3)
    palette.putpalette([0, 0, 0, 10, 10, 10, 20, 20, 20, 0, 200, 0] + [0] * 756)
    assert open_image(saved(palette, tmp_path / "palette.gif")).getpixel((0, 0)) == (0, 200, 0)


def test_exif_rotation_is_honoured(tmp_path: Path) -> None:
    landscape = Image.new("RGB", (40, 20), "green")
    exif = landscape.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    image = open_image(saved(landscape, tmp_path / "phone.jpg", exif=exif.tobytes()))
    assert image.size == (20, 40)


def test_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    red, green, blue = open_image(path).getpixel((2, 2))
    assert red > 200 and blue < 50


def test_truncated_file_is_reported_as_damaged(tmp_path: Path) -> None:
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    data = saved(noise, tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptImageError, match="cut.png is damaged or truncated"):
        open_image(tmp_path / "cut.png")


def test_decompression_bomb_is_an_error_not_a_warning() -> None:
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buffer, "PNG")  # 144 Mpx, a few kB on disk
    with pytest.raises(ImageTooLargeError, match="too large to decode safely"):
        open_image(buffer.getvalue(), name="bomb.png")


def test_heic_and_unknown_formats_say_unsupported() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    with pytest.raises(
        UnsupportedImageError, match="HEIC/HEIF.*unsupported format|unsupported format.*HEIC"
    ):
        open_image(heic, name="holiday.heic")
    with pytest.raises(UnsupportedImageError, match="notes.txt: unsupported format"):
        open_image(b"just text, not pixels", name="notes.txt")


def test_a_png_with_a_bad_crc_says_so_not_unsupported(tmp_path: Path) -> None:
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 255, (16, 16, 3), np.uint8))
    good = saved(noise, tmp_path / "good.png").read_bytes()
    header_crc = 8 + 8 + 13  # signature, IHDR's length and type, its 13 bytes of data
    in_header = bytearray(good)
    in_header[header_crc] ^= 0xFF
    with pytest.raises(CorruptImageError, match=r"h.png: corrupt PNG: bad CRC in chunk 'IHDR'"):
        open_image(bytes(in_header), name="h.png")
    in_pixels = bytearray(good)
    in_pixels[good.index(b"IDAT") + 10] ^= 0xFF  # the compressed pixels no longer inflate
    with pytest.raises(CorruptImageError, match=r"p.png: corrupt PNG: bad CRC in chunk 'IDAT'"):
        open_image(bytes(in_pixels), name="p.png")
