"""The PP-OCR ONNX models that ship inside the rapidocr wheel, found and checked by sha256.

Hearth passes these paths to rapidocr explicitly: given no path, rapidocr would fetch its
default models from the network, and Hearth never downloads without being asked."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from backend.embeddings.minilm import sha256_of
from backend.ocr.errors import OcrModelsUnavailableError


@dataclass(frozen=True)
class OcrModelFile:
    role: str  # rapidocr's config section: Det, Cls or Rec
    name: str
    sha256: str


# rapidocr 3.10.0 (pinned in pyproject): PP-OCRv6 small detection and recognition, and the
# PP-OCR v2.0 mobile text-direction classifier (0° or 180°; switched off in engine.py, but its
# path is still given so that nothing could make rapidocr fetch one). Apache-2.0
# (MODEL_LICENSES.md).
PACKAGED_MODELS = (
    OcrModelFile(
        "Det",
        "PP-OCRv6_det_small.onnx",
        "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    ),
    OcrModelFile(
        "Cls",
        "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    ),
    OcrModelFile(
        "Rec",
        "PP-OCRv6_rec_small.onnx",
        "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    ),
)


def packaged_models_dir() -> Path:
    # find_spec locates the package without importing it (and cv2 with it).
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise OcrModelsUnavailableError(
            "OCR is not installed: the 'rapidocr' package is missing; reinstall Hearth."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def locate_models(verify: bool = True) -> dict[str, Path]:
    """Each model's path by rapidocr role, checked to exist and, with `verify`, by sha256."""
    folder = packaged_models_dir()
    found: dict[str, Path] = {}
    for model in PACKAGED_MODELS:
        path = folder / model.name
        if not path.is_file():
            raise OcrModelsUnavailableError(
                f"The OCR model {path} is missing; reinstall rapidocr 3.10.0."
            )
        if verify and sha256_of(path) != model.sha256:
            raise OcrModelsUnavailableError(
                f"{path} does not match its recorded sha256; reinstall rapidocr 3.10.0."
            )
        found[model.role] = path
    return found
