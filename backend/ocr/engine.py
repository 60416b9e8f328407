"""The OCR engine: the one owner of RapidOCR's ONNX sessions, behind Hearth's own interface.

rapidocr, and the OpenCV it brings, are imported here only, when the engine is first built."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

from backend.lazy import Lazy
from backend.ocr.errors import OcrError
from backend.ocr.models import locate_models
from backend.ocr.result import OcrLine, OcrResult, reading_order

if TYPE_CHECKING:
    from rapidocr import RapidOCR

__all__ = ["OcrConfig", "OcrEngine", "OcrError", "ocr_engine"]

RAPIDOCR_LOGGER = "RapidOCR"
MAX_LINE_HEIGHT = 0.2  # of the picture's longest side: taller "lines" are shapes, not text
MAX_ASPECT = 20  # longest side to shortest that rapidocr is given


@dataclass(frozen=True)
class OcrConfig:
    """How the engine runs; the defaults suit a desktop that is doing other work too."""

    threads: int = 2  # ONNX Runtime intra-op threads per model
    min_confidence: float = 0.65  # lines the recogniser is less sure of are dropped
    read_side: int = 960  # longest side the detector sees when reading (PaddleOCR 2's default)
    gate_side: int = 640  # longest side of the picture the cheap text detector sees
    gate_min_score: float = 0.6  # a detected box at least this sure means "has text"


@contextmanager
def _environment_kept() -> Iterator[None]:
    """OpenCV's import points LD_LIBRARY_PATH at its own libraries in os.environ, which every
    process Hearth starts afterwards would inherit; the environment is put back as it was."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        if dict(os.environ) != saved:
            os.environ.clear()
            os.environ.update(saved)


def _quiet_rapidocr() -> None:
    """rapidocr prints every model load and empty result through its own console handler;
    its records go to Hearth's logging instead, and only from errors up."""
    logger = logging.getLogger(RAPIDOCR_LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.ERROR)


def _rapidocr_params(config: OcrConfig, **extra: Any) -> dict[str, Any]:
    paths = locate_models()
    return {
        "Global.log_level": "error",
        # The 0/180 degree line classifier turned about 1 line in 10 of upright scanned pages
        # upside down (read as garbage, then dropped); PDF pages arrive upright anyway.
        "Global.use_cls": False,
        "Global.text_score": config.min_confidence,
        "EngineConfig.onnxruntime.intra_op_num_threads": config.threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        **{f"{role}.model_path": str(path) for role, path in paths.items()},
        **extra,
    }


def _lines(output: Any, min_confidence: float) -> list[OcrLine]:
    """OcrLines out of rapidocr's output; an image without text gives an empty output."""
    boxes, texts = getattr(output, "boxes", None), getattr(output, "txts", None)
    scores = getattr(output, "scores", None)
    if boxes is None or texts is None or scores is None:
        return []
    return [
        OcrLine(text.strip(), tuple((float(x), float(y)) for x, y in box), float(score))
        for box, text, score in zip(boxes, texts, scores, strict=True)
        if score >= min_confidence and text.strip()
    ]


def _padded(image: Image.Image) -> Image.Image:
    """A long thin strip (a banner, a one-line crop) padded with its corner's colour to at
    most MAX_ASPECT to 1: rapidocr cannot fit a 3000x20 picture between its smallest and
    largest sides, and fails. Boxes keep their coordinates, as the strip stays top-left."""
    width, height = image.size
    if max(width, height) <= MAX_ASPECT * min(width, height):
        return image
    size = (max(width, -(-height // MAX_ASPECT)), max(height, -(-width // MAX_ASPECT)))
    canvas = Image.new("RGB", size, image.getpixel((0, 0)))
    canvas.paste(image, (0, 0))
    return canvas


def _looks_like_text(box: Any, image_side: int) -> bool:
    """A line of text is a band: wider than tall, and far shorter than the picture is long
    (a one-line crop is itself little taller than its line). The edge of a large round shape
    can fool the detector, but not into that."""
    xs, ys = [float(x) for x, _ in box], [float(y) for _, y in box]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    return width >= height and height <= image_side * MAX_LINE_HEIGHT


class OcrEngine:
    """Image in, lines of text out. Thread-safe: one image is read at a time, which also
    keeps OCR within its thread budget however many callers ask at once."""

    def __init__(self, config: OcrConfig | None = None) -> None:
        self.config = config or OcrConfig()
        self._lock = threading.Lock()
        # rapidocr's own default scales the *shortest* side to 736 px: a 150 dpi A4 page is
        # then detected at full size, about 3 times slower, and small text goes unseen.
        self._reader = self._build(
            self.config,
            **{"Det.limit_type": "max", "Det.limit_side_len": self.config.read_side},
        )
        self._detector = self._build(
            self.config,
            **{
                "Global.use_rec": False,
                "Det.limit_type": "max",
                "Det.limit_side_len": self.config.gate_side,
            },
        )

    @staticmethod
    def _build(config: OcrConfig, **extra: Any) -> RapidOCR:
        try:
            with _environment_kept():
                from rapidocr import RapidOCR
        except ImportError as exc:  # cv2 and friends can fail to load on a broken install
            raise OcrError(f"OCR cannot start: {exc}; reinstall Hearth.") from exc
        _quiet_rapidocr()
        # rapidocr loads each ONNX session on first use, under its own lock.
        return RapidOCR(params=_rapidocr_params(config, **extra))

    def read(self, image: Image.Image) -> OcrResult:
        """The image's text lines in reading order, those under `min_confidence` left out."""
        output = self._run(self._reader, _padded(image.convert("RGB")))
        return OcrResult(reading_order(_lines(output, self.config.min_confidence)))

    def likely_has_text(self, image: Image.Image) -> bool:
        """A cheap gate: the detector alone, on a small copy, finds at least one sure text
        box. Photos without words skip recognition, which is the costly part."""
        small = _padded(image.convert("RGB"))
        small.thumbnail((self.config.gate_side, self.config.gate_side))
        output = self._run(self._detector, small)
        boxes, scores = getattr(output, "boxes", None), getattr(output, "scores", None)
        if boxes is None or scores is None:
            return False
        return any(
            score >= self.config.gate_min_score and _looks_like_text(box, max(small.size))
            for box, score in zip(boxes, scores, strict=True)
        )

    def _run(self, engine: RapidOCR, image: Image.Image) -> Any:
        """`image` is RGB; rapidocr turns a PIL image into OpenCV's BGR itself."""
        try:
            with self._lock:
                return engine(image)
        except Exception as exc:  # an ONNX or OpenCV failure on this image fails this image
            raise OcrError(f"OCR could not read the image ({type(exc).__name__}: {exc})") from exc


_ENGINE: Lazy[OcrEngine] = Lazy(OcrEngine)


def ocr_engine() -> OcrEngine:
    """The process's one OCR engine, built on first use (its models load on first read)."""
    return _ENGINE.get()
