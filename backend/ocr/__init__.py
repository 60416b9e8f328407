"""Reading text in pictures: Hearth's own interface over RapidOCR's PP-OCR ONNX models."""

from backend.ocr.engine import OcrConfig, OcrEngine, OcrError, ocr_engine
from backend.ocr.result import OcrLine, OcrResult

__all__ = ["OcrConfig", "OcrEngine", "OcrError", "OcrLine", "OcrResult", "ocr_engine"]
