"""Pictures of text made for OCR tests and the OCR bench: lines set in a real font, then
rasterised as a scanner would leave them (slightly turned, with sensor noise), and PDFs
made of such pages, with or without a real text page among them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PAGE_DPI = 150
SMALL_PAGE = (620, 620)  # pixels at 150 dpi: about 10.5 cm square, enough for a few lines


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans where it is installed, else the scalable font Pillow carries."""
    if DEJAVU.is_file():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size)


def text_image(
    lines: Sequence[str],
    size: tuple[int, int] = SMALL_PAGE,
    *,
    font_px: int = 24,
    angle: float = 0.8,
    noise: float = 10.0,
    seed: int = 0,
) -> Image.Image:
    """A page of `lines`, turned by `angle` degrees, with Gaussian noise of that deviation."""
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    face = font(font_px)
    for row, line in enumerate(lines):
        draw.text((40, 50 + row * int(font_px * 1.8)), line, font=face, fill=20)
    page = page.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    pixels = np.asarray(page, dtype=np.float32)
    pixels += np.random.default_rng(seed).normal(0.0, noise, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).convert("RGB")


def photo_without_text(size: tuple[int, int] = (640, 480), seed: int = 0) -> Image.Image:
    """Something like a photo: a smooth colour gradient, soft blobs and grain, and no words."""
    rng = np.random.default_rng(seed)
    height, width = size[1], size[0]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack(
        [120 + 100 * x / width, 90 + 120 * y / height, 160 - 80 * (x + y) / (width + height)], -1
    )
    for _ in range(6):
        cx, cy, radius = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(40, 160)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2))[..., None]
        pixels = pixels * (1 - blob) + rng.uniform(0, 255, 3) * blob
    pixels += rng.normal(0.0, 6.0, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def scanned_pdf(path: Path, pages: Sequence[Sequence[str]], seed: int = 0) -> Path:
    """A PDF made only of page images, one per entry of `pages`: no text layer at all."""
    images = [
        text_image(lines, seed=seed + i, angle=0.8 - 0.5 * i) for i, lines in enumerate(pages)
    ]
    images[0].save(path, "PDF", resolution=PAGE_DPI, save_all=True, append_images=images[1:])
    return path


def mixed_pdf(path: Path, pages: Sequence[tuple[str, Sequence[str]]]) -> Path:
    """A PDF whose pages are ("text", lines) with a real text layer or ("scan", lines) as a
    picture of those lines, in the order given."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    side = SMALL_PAGE[0] * 72 / PAGE_DPI  # points
    pdf = canvas.Canvas(str(path), pagesize=(side, side))
    for number, (kind, lines) in enumerate(pages):
        if kind == "text":
            for row, line in enumerate(lines):
                pdf.drawString(24, side - 40 - 16 * row, line)
        else:
            pdf.drawImage(ImageReader(text_image(lines, seed=number)), 0, 0, side, side)
        pdf.showPage()
    pdf.save()
    return path
