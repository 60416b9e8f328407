"""The file types indexing reads, named for people (the desktop's empty state lists them) without
importing the parsers and the OCR engine behind them."""

from __future__ import annotations

# Each suffix with a parser of its own (parsers.PARSERS; a test keeps the two equal). Any other
# file is read as text or source code when it is not binary.
PARSED_SUFFIXES = (".md", ".markdown", ".rst", ".html", ".htm", ".pdf", ".docx", ".csv", ".json")
# Pictures read by OCR (parsers.PICTURE_SUFFIXES).
OCR_PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
