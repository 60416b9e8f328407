"""Scanned pages and pictures of text: which PDF pages need OCR, rendering them with pdfium,
and the OCR'd lines laid out as text with a blank line between paragraphs.

pypdfium2 is imported here only, and only for PDFs that have a page worth a look."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from backend.ocr import OcrEngine, OcrLine, OcrResult

if TYPE_CHECKING:
    import pypdfium2
    from PIL import Image

OCR_DPI = 150  # enough for body text; higher costs time and finds little more
MAX_RENDER_SIDE = 2400  # pixels: a poster-sized page is rendered smaller, not at 150 dpi
MAX_OCR_PAGES = 500  # pages of one file read by OCR; later scanned pages are left out
FULL_PAGE_CHARS = 1500  # a page with this much layer text is not a scan: not even measured
SPARSE_TEXT = 0.03  # text boxes covering less of the page than this are "a few words"
MOSTLY_PICTURE = 0.5  # images covering this much of the page make it a scan
PARAGRAPH_GAP = 0.9  # a vertical gap over this many line heights starts a new paragraph


@dataclass(frozen=True)
class PageRead:
    """Progress through one file's pages read by OCR: `done` of `total` so far."""

    done: int
    total: int


@dataclass(frozen=True)
class ScannedPage:
    """One page read by OCR: its 1-based `number`, and `done` of the file's `total` so far."""

    number: int
    result: OcrResult
    done: int
    total: int


def _area(left: float, bottom: float, right: float, top: float) -> float:
    return max(0.0, right - left) * max(0.0, top - bottom)


def _needs_ocr(page: pypdfium2.PdfPage, layer_text: str) -> bool:
    """No text layer at all, or a picture filling the page with only a few words as text
    (a scanner's stamp or header); a text page with a small logo is read from its layer."""
    import pypdfium2.raw as pdfium_c

    if not layer_text.strip():
        return True
    if len(layer_text) >= FULL_PAGE_CHARS:
        return False
    width, height = page.get_size()
    whole = max(width * height, 1.0)
    with closing(page.get_textpage()) as text:
        covered = sum(_area(*text.get_rect(i)) for i in range(text.count_rects()))
    pictures = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3)
    pictured = sum(_area(*picture.get_bounds()) for picture in pictures)
    return covered / whole < SPARSE_TEXT and pictured / whole >= MOSTLY_PICTURE


def _render(page: pypdfium2.PdfPage) -> Image.Image:
    width, height = page.get_size()  # points, 1/72 inch
    scale = min(OCR_DPI / 72, MAX_RENDER_SIDE / max(width, height, 1.0))
    return page.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")


def read_scanned_pages(
    path: Path, layer_texts: Sequence[str], engine: OcrEngine
) -> Iterator[ScannedPage]:
    """Each page that needs OCR, read one at a time, so the caller can report progress and
    stop between pages; at most MAX_OCR_PAGES of them. `layer_texts` are the pages' text
    layers, as the PDF's text extraction found them."""
    import pypdfium2

    with closing(pypdfium2.PdfDocument(str(path))) as pdf:
        wanted = []
        for index, layer in enumerate(layer_texts[: len(pdf)]):
            with closing(pdf[index]) as page:
                if _needs_ocr(page, layer):
                    wanted.append(index)
        wanted = wanted[:MAX_OCR_PAGES]
        for done, index in enumerate(wanted, start=1):
            with closing(pdf[index]) as page:
                image = _render(page)
            yield ScannedPage(index + 1, read_picture(image, engine), done, len(wanted))


def read_picture(image: Image.Image, engine: OcrEngine) -> OcrResult:
    """The picture's text, or no lines when the cheap detector pass sees none."""
    if not engine.likely_has_text(image):
        return OcrResult([])
    return engine.read(image)


def text_lines(result: OcrResult) -> list[str]:
    """The read lines in order, with an empty line where a wide vertical gap (or a jump back
    up, as at the top of a second column) separates paragraphs."""
    lines: list[str] = []
    previous: OcrLine | None = None
    for line in result.lines:
        if previous is not None:
            height = max(previous.bottom - previous.top, 1.0)
            gap = line.top - previous.bottom
            if gap > PARAGRAPH_GAP * height or gap < -height:
                lines.append("")
        lines.append(line.text)
        previous = line
    return lines
