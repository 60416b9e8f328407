"""Pictures for the image tests, made in tmp_path: a terminal screenshot with an error in a
real font, and photo-like pictures without text (smooth colour fields with sensor noise)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

DEJAVU_MONO = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
TERMINAL_ERROR = (
    "$ curl http://localhost:8080/health",
    "curl: (7) Failed to connect to localhost port 8080: Connection refused",
    "$",
)


def terminal_screenshot(
    path: Path, lines: Sequence[str] = TERMINAL_ERROR, size: tuple[int, int] = (900, 220)
) -> Path:
    """Light text on a dark terminal, 18-pixel DejaVu Sans Mono, saved as PNG."""
    image = Image.new("RGB", size, "#1e1e1e")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(DEJAVU_MONO), 18)
    for row, line in enumerate(lines):
        draw.text((16, 16 + 30 * row), line, font=font, fill="#e6e6e6")
    image.save(path)
    return path


def photo(path: Path, seed: int, size: tuple[int, int] = (640, 480)) -> Path:
    """A photo-like picture without text: soft colour waves under Gaussian noise, as JPEG."""
    rng = np.random.default_rng(seed)
    width, height = size
    x = np.linspace(0.0, 1.0, width)[None, :, None]
    y = np.linspace(0.0, 1.0, height)[:, None, None]
    frequency, phase = rng.uniform(1.0, 6.0, 3), rng.uniform(0.0, 6.3, 3)
    waves = 0.5 + 0.5 * np.sin(frequency * x * 5 + frequency[::-1] * y * 3 + phase)
    pixels = 255.0 * waves + rng.normal(0.0, 10.0, (height, width, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path
