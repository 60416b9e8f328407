"""Reading files into text blocks: one parser per file kind, chosen by extension."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from backend.documents.blocks import Block
from backend.documents.errors import (
    CorruptDocumentError,
    NoExtractableTextError,
    UnsupportedDocumentError,
)
from backend.documents.limits import DocumentLimits, over_limit, within_text_limit
from backend.documents.ocr_pages import PageRead, read_picture, read_scanned_pages, text_lines
from backend.documents.zip_limits import inflated_copy
from backend.ocr import OcrResult, ocr_engine

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument

Parser = Callable[[Path], list[Block]]
# A parser that reads page by page: yields progress, returns the blocks (see `map_steps`).
ParseSteps = Generator[PageRead, None, list[Block]]
SteppedParser = Callable[[Path, bool, DocumentLimits], ParseSteps]  # (path, ocr, limits)
DEFAULT_LIMITS = DocumentLimits()
# heading_at(lines, i) -> (level, title, lines the heading takes) or None
HeadingFinder = Callable[[list[str], int], tuple[int, str, int] | None]

BINARY_SNIFF_BYTES = 8192
NO_TEXT_LAYER = "no extractable text (OCR not available)"  # or OCR is off for the collection
NO_TEXT_READ = "no extractable text: no text layer, and OCR read none"
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
PASSWORD_NEEDED = "encrypted PDF that needs a password: save a copy without one to index it"
WESTERN_MARGIN = 0.05
# What pypdf and python-docx raise, besides their own errors, on a damaged file whose objects
# or XML parts are not what they expect (found by tests/backend/test_fuzz_*.py).
LIBRARY_DAMAGE = (ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError)


def decode_text(data: bytes) -> str:
    """Bytes to text in whatever encoding they are; binary data is refused."""
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise UnsupportedDocumentError("binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise UnsupportedDocumentError("binary file (no text encoding fits)")
    best = min(matches, key=lambda m: m.chaos)
    # Short Western text fits several code pages equally well; Windows-1252 is by far the most
    # common of them, so it wins unless another reads clearly better.
    western = [m for m in matches if m.encoding == "cp1252"]
    if western and western[0].chaos <= best.chaos + WESTERN_MARGIN:
        best = western[0]
    return str(best)


def paragraph_blocks(
    lines: list[str],
    first: int = 0,
    last: int | None = None,
    headings: tuple[str, ...] = (),
    page: int | None = None,
) -> Iterator[Block]:
    """Blank-line separated paragraphs of lines[first:last], with 1-based lines and spans."""
    last = len(lines) if last is None else last
    offset = sum(len(line) + 1 for line in lines[:first])
    start: int | None = None
    start_offset = 0
    for i in range(first, last + 1):
        blank = i == last or not lines[i].strip()
        if not blank and start is None:
            start, start_offset = i, offset
        elif blank and start is not None:
            text = "\n".join(line.rstrip() for line in lines[start:i])
            yield Block(text, headings, page, (start + 1, i), (start_offset, offset - 1))
            start = None
        if i < last:
            offset += len(lines[i]) + 1


def sectioned_blocks(text: str, heading_at: HeadingFinder) -> list[Block]:
    """Paragraph blocks of a text split into sections by its headings, keeping the path."""
    lines = text.split("\n")
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    body_start = i = 0
    while i < len(lines):
        found = heading_at(lines, i)
        if found is None:
            i += 1
            continue
        level, title, used = found
        blocks.extend(paragraph_blocks(lines, body_start, i, tuple(t for _, t in path)))
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
        i += used
        body_start = i
    blocks.extend(paragraph_blocks(lines, body_start, len(lines), tuple(t for _, t in path)))
    return blocks


def read_text_file(path: Path) -> list[Block]:
    return list(paragraph_blocks(decode_text(path.read_bytes()).split("\n")))


MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_heading_finder() -> HeadingFinder:
    in_fence = False

    # Called once per line, in order, so the fence state follows the text.
    def heading_at(lines: list[str], i: int) -> tuple[int, str, int] | None:
        nonlocal in_fence
        if FENCE.match(lines[i]):
            in_fence = not in_fence  # a '#' comment inside a code block is not a heading
            return None
        match = None if in_fence else MARKDOWN_HEADING.match(lines[i])
        return (len(match.group(1)), match.group(2), 1) if match else None

    return heading_at


def read_markdown(path: Path) -> list[Block]:
    return sectioned_blocks(decode_text(path.read_bytes()), markdown_heading_finder())


RST_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.!$%&,/;<>?@\\_|])\1{2,}\s*$")


def rst_heading_finder() -> HeadingFinder:
    levels: list[tuple[str, bool]] = []  # adornment styles in order of first use = levels

    def level_of(style: tuple[str, bool]) -> int:
        if style not in levels:
            levels.append(style)
        return levels.index(style) + 1

    def heading_at(lines: list[str], i: int) -> tuple[int, str, int] | None:
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        over = RST_ADORNMENT.match(lines[i])
        if over and i + 2 < len(lines) and lines[i + 2].strip() == lines[i].strip():
            return level_of((over.group(1), True)), lines[i + 1].strip(), 3
        under = RST_ADORNMENT.match(nxt)
        title = lines[i].strip()
        if under and title and not RST_ADORNMENT.match(lines[i]) and len(nxt.strip()) >= len(title):
            return level_of((under.group(1), False)), title, 2
        return None

    return heading_at


def read_rst(path: Path) -> list[Block]:
    return sectioned_blocks(decode_text(path.read_bytes()), rst_heading_finder())


HTML_DROPPED = ("script", "style", "nav", "header", "footer", "aside", "noscript", "form", "svg")
HTML_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
HTML_BLOCKS = (*HTML_HEADINGS, "p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption")


def read_html(path: Path) -> list[Block]:
    """The page's main text: headings and text blocks, without scripts, navigation or footers."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(path.read_bytes()), "html.parser")
    for tag in soup(HTML_DROPPED):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    blocks: list[Block] = []
    path_: list[tuple[int, str]] = []
    for element in root.find_all(HTML_BLOCKS):
        if element.find_parent(HTML_BLOCKS) is not None:
            continue  # its text is already in the enclosing block
        text = element.get_text(" ", strip=True)
        if not text:
            continue
        line = element.sourceline
        if element.name in HTML_HEADINGS:
            level = int(element.name[1])
            path_ = [(lvl, t) for lvl, t in path_ if lvl < level] + [(level, text)]
            continue
        lines = (line, line + str(element).count("\n")) if line else None
        blocks.append(Block(text, tuple(t for _, t in path_), None, lines))
    return blocks


def _pdf_text_layers(path: Path, max_pages: int) -> list[str]:
    """Each page's text layer, as pypdf extracts it; empty for a page that has none."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnsupportedDocumentError(PASSWORD_NEEDED)
        if len(reader.pages) > max_pages:
            pages = f"has {len(reader.pages):,} pages"
            raise over_limit(pages, "max_document_pages", f"{max_pages:,}")
        return [page.extract_text() or "" for page in reader.pages]
    except RecursionError as exc:
        raise CorruptDocumentError("not a readable PDF (objects nested too deeply)") from exc
    except NotImplementedError as exc:  # an encryption handler or filter pypdf lacks
        raise UnsupportedDocumentError(f"PDF uses a feature Hearth cannot read ({exc})") from exc
    except (PyPdfError, *LIBRARY_DAMAGE, OSError) as exc:
        raise CorruptDocumentError(f"not a readable PDF ({exc})") from exc


def _ocr_blocks(result: OcrResult, page: int | None) -> list[Block]:
    return [replace(b, ocr=True) for b in paragraph_blocks(text_lines(result), page=page)]


def _ocr_pages(path: Path, layers: list[str]) -> Generator[PageRead, None, dict[int, list[Block]]]:
    """The blocks OCR read on each page that needs it, by page; progress after each page."""
    from pypdfium2 import PdfiumError

    found: dict[int, list[Block]] = {}
    try:
        for scanned in read_scanned_pages(path, layers, ocr_engine()):
            found[scanned.number] = _ocr_blocks(scanned.result, scanned.number)
            yield PageRead(scanned.done, scanned.total)
    except PdfiumError as exc:  # pypdf read it, but pdfium cannot render it
        raise CorruptDocumentError(f"PDF pages cannot be rendered for OCR ({exc})") from exc
    return found


def read_pdf_steps(path: Path, ocr: bool, limits: DocumentLimits = DEFAULT_LIMITS) -> ParseSteps:
    """Text per page (1-based). With `ocr`, a page without a text layer, or a scan with only a
    few words as text, is rendered and read by OCR, page by page; a PDF with no text at all is
    reported, not indexed empty."""
    layers = _pdf_text_layers(path, limits.max_document_pages)
    read = (yield from _ocr_pages(path, layers)) if ocr else {}
    blocks: list[Block] = []
    for number, text in enumerate(layers, start=1):
        layer = list(paragraph_blocks(text.split("\n"), page=number))
        by_ocr = read.get(number, [])
        # OCR also reads whatever words the layer has, so the longer text is the whole page.
        longer = sum(len(b.text) for b in by_ocr) > sum(len(b.text) for b in layer)
        blocks.extend(by_ocr if longer else layer)
    if not blocks:
        raise NoExtractableTextError(NO_TEXT_READ if ocr else NO_TEXT_LAYER)
    return blocks


def is_picture(path: Path) -> bool:
    return path.suffix.lower() in PICTURE_SUFFIXES


def read_picture_steps(
    path: Path, ocr: bool, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParseSteps:
    """A picture's text read by OCR; no blocks when it holds none (a photo), which is not a
    failure. Only collections with OCR on list pictures among their documents."""
    from backend.images.decode import ImageDecodeError, open_image

    if not ocr:
        raise UnsupportedDocumentError("picture (OCR is off for this collection)")
    try:
        image = open_image(path, limit=limits.max_image_bytes)
    except ImageDecodeError as exc:
        raise CorruptDocumentError(str(exc)) from exc
    blocks = _ocr_blocks(read_picture(image, ocr_engine()), page=None)
    yield PageRead(1, 1)
    return blocks


def read_pdf(path: Path) -> list[Block]:
    """A PDF's text layer only, without OCR."""
    return drain(read_pdf_steps(path, ocr=False))


DOCX_HEADING = re.compile(r"^(?:Heading (\d)|Title)$")


def read_docx(path: Path, limits: DocumentLimits = DEFAULT_LIMITS) -> list[Block]:
    """Paragraphs under their headings (Word's Title and Heading N styles)."""
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    # python-docx would inflate every part without a bound
    package = inflated_copy(path, "DOCX", limits.max_document_uncompressed_bytes)
    try:
        return _docx_blocks(Document(package))
    except SyntaxError as exc:  # lxml's XMLSyntaxError: broken XML, or an entity or depth bomb
        raise CorruptDocumentError(f"not a readable DOCX (broken XML: {exc})") from exc
    except AttributeError as exc:  # python-docx met XML of another kind than the part's own
        raise CorruptDocumentError(f"not a readable DOCX (wrong XML in a part: {exc})") from exc
    except (zipfile.BadZipFile, PackageNotFoundError, *LIBRARY_DAMAGE) as exc:
        raise CorruptDocumentError(f"not a readable DOCX ({exc})") from exc


def _docx_blocks(document: DocxDocument) -> list[Block]:
    blocks: list[Block] = []
    path_: list[tuple[int, str]] = []
    offset = 0
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        style = paragraph.style.name if paragraph.style is not None else ""
        heading = DOCX_HEADING.match(style or "")
        if text and heading:
            level = int(heading.group(1) or 0)
            path_ = [(lvl, t) for lvl, t in path_ if lvl < level] + [(level, text)]
        elif text:
            blocks.append(
                Block(text, tuple(t for _, t in path_), span=(offset, offset + len(text)))
            )
        offset += len(text) + 1
    return blocks


def read_csv(path: Path) -> list[Block]:
    """One block per row, written as 'column: value' pairs so each row reads on its own."""
    text = decode_text(path.read_bytes())
    try:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, [])
        blocks: list[Block] = []
        start = reader.line_num + 1
        for row in reader:
            pairs = ", ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False) if v)
            if pairs:
                blocks.append(Block(pairs, lines=(start, reader.line_num)))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise CorruptDocumentError(f"not a readable CSV ({exc})") from exc
    return blocks


def read_json(path: Path) -> list[Block]:
    """JSON is checked, then indexed as the text it is, so line numbers match the file."""
    text = decode_text(path.read_bytes())
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptDocumentError(f"not valid JSON ({exc})") from exc
    return list(paragraph_blocks(text.split("\n")))


PARSERS: dict[str, Parser] = {
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".rst": read_rst,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".csv": read_csv,
    ".json": read_json,
}


STEPPED_PARSERS: dict[str, SteppedParser] = {
    ".pdf": read_pdf_steps,
    **dict.fromkeys(PICTURE_SUFFIXES, read_picture_steps),
}


def parse_document_steps(
    path: Path, ocr: bool, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParseSteps:
    """The blocks of one file, yielding progress while OCR reads its pages; any extension
    without a parser is read as plain text or source code. Past one of the `limits`, a
    DocumentLimitError names the setting."""
    suffix = path.suffix.lower()
    stepped = STEPPED_PARSERS.get(suffix)
    if stepped is not None:
        blocks = yield from stepped(path, ocr, limits)
    elif suffix == ".docx":  # the one plain format a limit bounds as it is read
        blocks = read_docx(path, limits)
    else:
        blocks = PARSERS.get(suffix, read_text_file)(path)
    return within_text_limit(blocks, limits)


def parse_document(
    path: Path, ocr: bool = False, limits: DocumentLimits = DEFAULT_LIMITS
) -> list[Block]:
    """The blocks of one file, at once; OCR only when asked (indexing asks per collection)."""
    return drain(parse_document_steps(path, ocr, limits))


Step = TypeVar("Step")
Result = TypeVar("Result")
Mapped = TypeVar("Mapped")


def map_steps(
    steps: Generator[Step, None, Result], convert: Callable[[Step], Mapped]
) -> Generator[Mapped, None, Result]:
    """The same steps, each converted (to a progress event), and the same result. Closing the
    returned generator closes `steps` too: that is how a cancel stops between pages."""
    try:
        while True:
            yield convert(next(steps))
    except StopIteration as end:
        return end.value
    finally:
        steps.close()


def drain(steps: Generator[object, None, Result]) -> Result:
    """Run steps to the end, ignoring their progress, and return their result."""
    while True:
        try:
            next(steps)
        except StopIteration as end:
            return end.value
