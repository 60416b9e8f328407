"""The units parsers produce and the chunker consumes: text blocks with where they came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """A paragraph-like piece of a document, under its heading path.

    `lines` are 1-based inclusive line numbers in the file (or in the page's text for a PDF);
    `span` is a character range in the extracted text of the document (or of the page).
    """

    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None
    lines: tuple[int, int] | None = None
    span: tuple[int, int] | None = None
    ocr: bool = False  # read by OCR from a picture of the page, not from a text layer


@dataclass(frozen=True)
class Chunk:
    """What gets embedded and cited: text plus its location in the source file."""

    text: str
    index: int
    headings: tuple[str, ...] = ()
    page: int | None = None
    lines: tuple[int, int] | None = None
    span: tuple[int, int] | None = None
    ocr: bool = False  # its text was read by OCR

    def embedding_text(self) -> str:
        """The heading path goes in front, so a chunk is found by its section title too."""
        if not self.headings:
            return self.text
        return " > ".join(self.headings) + "\n" + self.text
