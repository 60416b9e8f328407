"""The text in a picture, for image questions and image search: a pixel check and the OCR
engine's detector first, full recognition only for pictures they say hold text.

The OCR engine's detector costs several times what indexing a photo does (reading, hashing,
decoding and embedding it), so ordinary photos must not reach it. `might_hold_text` looks at
a small greyscale copy for what text on a screen or on paper makes: a picture of nearly two
tones (the background and the ink) with fine detail. Screenshots, scans, slides, receipts and
charts pass; a photo, whose tones spread, does not, in a few milliseconds. Text printed over a
photo (a street sign, a caption on a picture) is missed: that is the price of the check.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from backend.wire import ImageLabel, ImageReading, ImageTextLine

CHECK_SIDE = 320  # the copy the check looks at: a screen's 14-pixel letters still show
TONE_STEP = 8  # grey levels a tone spans
MIN_TWO_TONES = 0.6  # share of the pixels in the two commonest tones, at least...
BLOCK = 4  # ...and, of the 4x4 patches,
DETAIL = 40  # the share spanning this many grey levels (a letter's edge)
MIN_DETAIL = 0.01  # at least this


def might_hold_text(image: Image.Image) -> bool:
    """Whether the picture has the two tones and the fine detail of text."""
    scale = CHECK_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = image.convert("L").resize(size, Image.Resampling.BOX) if scale < 1 else image
    pixels = np.asarray(small.convert("L"))
    height, width = (side - side % BLOCK for side in pixels.shape)
    if height == 0 or width == 0:
        return False
    tones = np.bincount((pixels // TONE_STEP).ravel(), minlength=256 // TONE_STEP)
    two_tones = float(np.sort(tones)[-2:].sum()) / pixels.size
    # One row of BLOCK * BLOCK pixels per patch: (rows, columns, BLOCK * BLOCK)
    patches = (
        pixels[:height, :width]
        .reshape(height // BLOCK, BLOCK, width // BLOCK, BLOCK)
        .swapaxes(1, 2)
        .reshape(height // BLOCK, width // BLOCK, BLOCK * BLOCK)
    )
    detail = float((patches.max(axis=-1) - patches.min(axis=-1) >= DETAIL).mean())
    return two_tones >= MIN_TWO_TONES and detail >= MIN_DETAIL


def read_text(image: Image.Image) -> list[ImageTextLine]:
    """The picture's lines of text in reading order; none when the checks find no text."""
    return recognise(image) if might_hold_text(image) else []


def recognise(image: Image.Image) -> list[ImageTextLine]:
    """The OCR engine's lines, once its detector finds text (the process's one engine,
    `backend.ocr.ocr_engine`, built on first use; it raises OcrError when it fails)."""
    from backend.ocr import ocr_engine

    engine = ocr_engine()
    if not engine.likely_has_text(image):
        return []
    return [
        ImageTextLine(
            text=line.text, box=[(x, y) for x, y in line.box], confidence=round(line.confidence, 4)
        )
        for line in engine.read(image).lines
    ]


def joined(lines: list[ImageTextLine]) -> str:
    return "\n".join(line.text for line in lines)


def reading(labels: list[ImageLabel], lines: list[ImageTextLine]) -> ImageReading:
    return ImageReading(labels=labels, text=joined(lines), lines=lines)
