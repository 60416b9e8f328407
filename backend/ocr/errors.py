"""What can go wrong reading text in pictures."""

from __future__ import annotations

from backend.errors import HearthError


class OcrError(HearthError):
    """The OCR engine failed on an image; the message says why."""

    code = "ocr_failed"


class OcrModelsUnavailableError(OcrError):
    """The OCR models are missing from the rapidocr install, or do not match their sha256."""

    code = "ocr_unavailable"
