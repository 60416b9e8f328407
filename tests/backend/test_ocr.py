"""OCR: the engine over rapidocr's packaged models, and scanned PDFs and pictures of text
in document collections. Inputs are drawn in tmp_path with a real font (tests/scanned_pages)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backend.ocr import OcrEngine, OcrError, OcrLine, OcrResult, ocr_engine
from backend.ocr import models as ocr_models
from backend.ocr.result import reading_order
from tests.scanned_pages import photo_without_text, text_image

LETTER = [
    "Dear Ms Holloway,",
    "invoice 4471 is overdue.",
    "Please pay by 12 March.",
]


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    """The process's engine, shared by every OCR test (its models load once)."""
    return ocr_engine()


def line(text: str, left: float, top: float, width: float = 100, tilt: float = 0) -> OcrLine:
    box = (
        (left, top),
        (left + width, top + tilt),
        (left + width, top + 20 + tilt),
        (left, top + 20),
    )
    return OcrLine(text, box, 0.9)


def test_reading_order_is_by_row_then_left_to_right() -> None:
    # A tilted scan: the right-hand box of the first row starts lower than the second row's
    # left-hand box would if sorted by its top edge alone.
    found = [
        line("row2-right", 300, 52),
        line("row1-right", 300, 8, tilt=6),
        line("row2-left", 10, 50),
        line("row1-left", 10, 4),
    ]
    assert [x.text for x in reading_order(found)] == [
        "row1-left",
        "row1-right",
        "row2-left",
        "row2-right",
    ]
    assert OcrResult(reading_order(found)).text.split("\n")[0] == "row1-left"


def test_a_scanned_letter_is_read_line_by_line_in_order(engine: OcrEngine) -> None:
    image = text_image(LETTER, size=(620, 260))
    result = engine.read(image)
    assert [x.text for x in result.lines] == LETTER
    assert result.text == "\n".join(LETTER)
    for found in result.lines:
        assert len(found.box) == 4
        assert all(0 <= x <= image.width and 0 <= y <= image.height for x, y in found.box)
        assert engine.config.min_confidence <= found.confidence <= 1.0
    assert engine.likely_has_text(image)


def test_a_picture_without_words_gives_no_lines_and_fails_the_gate(engine: OcrEngine) -> None:
    photo = photo_without_text()
    assert not engine.likely_has_text(photo)
    assert engine.read(photo).lines == []


def test_rapidocr_prints_nothing_of_its_own(
    engine: OcrEngine, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Reading a picture without text makes rapidocr log 'The text detection result is
    empty' to its own console handler unless Hearth has quieted it."""
    with caplog.at_level(logging.DEBUG):
        engine.read(photo_without_text(seed=3))
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert not [r for r in caplog.records if r.name == "RapidOCR" and r.levelno < logging.ERROR]


def test_one_engine_per_process_even_when_threads_race() -> None:
    found: list[OcrEngine] = []
    threads = [threading.Thread(target=lambda: found.append(ocr_engine())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(x) for x in found}) == 1


def test_a_tampered_model_is_refused_before_it_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for model in ocr_models.PACKAGED_MODELS:
        (tmp_path / model.name).write_bytes(b"not the model")
    monkeypatch.setattr(ocr_models, "packaged_models_dir", lambda: tmp_path)
    with pytest.raises(OcrError, match="does not match its recorded sha256"):
        OcrEngine()
    (tmp_path / ocr_models.PACKAGED_MODELS[0].name).unlink()
    with pytest.raises(OcrError, match="is missing"):
        OcrEngine()


def test_reading_needs_no_network(tmp_path: Path) -> None:
    """rapidocr fetches models it is not given; under the offline guard, a first read in a
    fresh process must not try."""
    from tests.test_offline import GUARD

    log = tmp_path / "attempts.log"
    image = tmp_path / "letter.png"
    text_image(LETTER, size=(620, 260)).save(image)
    code = (
        "from PIL import Image; from backend.ocr import ocr_engine; "
        f"print(ocr_engine().read(Image.open({str(image)!r})).text)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"PYTHONPATH": f"{GUARD}:{Path.cwd()}", "HEARTH_OFFLINE_LOG": str(log)},
    )
    assert result.returncode == 0, result.stderr
    assert "invoice 4471" in result.stdout
    assert result.stderr == ""
    assert not log.exists(), log.read_text()
