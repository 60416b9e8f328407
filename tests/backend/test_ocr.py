"""OCR: the engine over rapidocr's packaged models, and scanned PDFs and pictures of text
in document collections. Inputs are drawn in tmp_path with a real font (tests/scanned_pages)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from backend.documents.library import DocumentLibrary
from backend.documents.retrieval import Hit, SearchMode
from backend.ocr import OcrEngine, OcrError, OcrLine, OcrResult, ocr_engine
from backend.ocr import models as ocr_models
from backend.ocr.result import reading_order
from backend.paths import HomeLayout
from backend.settings import Settings
from backend.wire import FILE_STEPS, IngestEvent
from tests.backend.conftest import InProcessRealBackend
from tests.backend.inprocess_cli import run_hearth
from tests.scanned_pages import font, mixed_pdf, photo_without_text, scanned_pdf, text_image

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
    assert engine.likely_has_text(text_image(LETTER[1:2], size=(620, 140)))  # a one-line crop


def test_a_picture_without_words_gives_no_lines_and_fails_the_gate(engine: OcrEngine) -> None:
    photo = photo_without_text()
    assert not engine.likely_has_text(photo)
    assert engine.read(photo).lines == []


def test_long_thin_strips_are_read_not_refused(engine: OcrEngine) -> None:
    """rapidocr itself fails on a 3000x20 picture (no size fits between its side limits)."""
    banner = Image.new("RGB", (1500, 40), "white")
    ImageDraw.Draw(banner).text((5, 5), "Welcome home, Ada", font=font(24), fill="black")
    assert engine.read(banner).text == "Welcome home, Ada"
    for size in ((3000, 20), (20, 3000)):
        strip = Image.new("RGB", size, "white")
        assert not engine.likely_has_text(strip) and engine.read(strip).lines == []


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


# --- documents: scanned PDFs and pictures in a collection ----------------------------------

SCANNED_PAGES = [
    ["The orchard harvest begins in", "September with the apples."],
    ["The lighthouse keeper rows out", "to the rock every Thursday."],
    ["Tide tables for the northern", "bay are posted at the harbour."],
]
TEXT_PAGE = ["The ferry timetable changes in May.", "Boats leave the quay at seven."]
SCANNED_PAGE = ["The boiler service is booked", "for the second of March."]


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ocr") / "docs"
    folder.mkdir()
    scanned_pdf(folder / "scanned.pdf", SCANNED_PAGES)
    mixed_pdf(folder / "mixed.pdf", [("text", TEXT_PAGE), ("scan", SCANNED_PAGE)])
    text_image(["Dear Mr Okafor,", "your parcel 5521 is waiting", "at the depot."]).save(
        folder / "letter.png"
    )
    photo_without_text().save(folder / "holiday.jpg")
    return folder


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentLibrary]:
    found = DocumentLibrary(
        HomeLayout(tmp_path_factory.mktemp("home")).ensure(), Settings(threads=2)
    )
    yield found
    found.close()


@pytest.fixture(scope="module")
def indexed(library: DocumentLibrary, docs: Path) -> list[IngestEvent]:
    events = list(library.add("scans", [docs]))
    assert events[-1].type == "finished"
    return events


def best(
    library: DocumentLibrary, query: str, collection: str = "scans", mode: SearchMode = "bm25"
) -> Hit:
    hits = library.search(query, [collection], k=3, mode=mode)
    assert hits, query
    return hits[0]


def test_a_pdf_of_page_images_is_searchable_by_page(
    library: DocumentLibrary, docs: Path, indexed: list[IngestEvent]
) -> None:
    hit = best(library, "When does the lighthouse keeper row out to the rock?")
    assert hit.source == str(docs / "scanned.pdf") and hit.page == 2 and hit.ocr
    assert "lighthouse keeper" in hit.text
    assert best(library, "tide tables northern bay").page == 3
    assert best(library, "who looks after the lighthouse?", mode="dense").page == 2
    pages = [
        (e.pages_done, e.pages_total) for e in indexed if e.type == "page" and e.path == hit.source
    ]
    assert pages == [(1, 3), (2, 3), (3, 3)]  # progress counts the scanned PDF's pages


def test_a_mixed_pdf_reads_each_page_its_own_way(
    library: DocumentLibrary, docs: Path, indexed: list[IngestEvent]
) -> None:
    typed = best(library, "ferry timetable quay")
    assert (typed.source, typed.page, typed.ocr) == (str(docs / "mixed.pdf"), 1, False)
    scanned = best(library, "When is the boiler service booked?")
    assert (scanned.source, scanned.page, scanned.ocr) == (str(docs / "mixed.pdf"), 2, True)
    assert "second of March" in scanned.text


def test_a_letter_picture_is_indexed_and_a_photo_is_left_out_quietly(
    library: DocumentLibrary, docs: Path, indexed: list[IngestEvent]
) -> None:
    hit = best(library, "parcel waiting at the depot")
    assert hit.source == str(docs / "letter.png") and hit.ocr and hit.page is None
    by_path = {Path(e.path or "").name: e.type for e in indexed if e.type in FILE_STEPS}
    assert by_path == {
        "scanned.pdf": "indexed",
        "mixed.pdf": "indexed",
        "letter.png": "indexed",
        "holiday.jpg": "no_text",
    }
    files = {Path(f.path).name: f for f in library.files("scans")}
    assert files["holiday.jpg"].status == "indexed" and files["holiday.jpg"].chunks == 0
    assert library.collection("scans").failed == 0
    resync = {Path(e.path or "").name: e.type for e in library.sync("scans") if e.path}
    assert resync["holiday.jpg"] == "unchanged"  # not read again on every sync


def test_ocr_switched_off_gives_the_no_text_report(library: DocumentLibrary, docs: Path) -> None:
    events = list(library.add("plain", [docs], ocr=False))
    assert library.collection("plain").ocr is False
    assert not [e for e in events if e.type == "page"]
    files = {Path(f.path).name: f for f in library.files("plain")}
    assert files["scanned.pdf"].status == "failed"
    assert (files["scanned.pdf"].error or "").startswith("no extractable text")
    assert files["mixed.pdf"].chunks >= 1  # its text page still counts
    skipped = {Path(e.path or "").name: e.detail for e in events if e.type == "skipped"}
    assert skipped == {"letter.png": "binary file", "holiday.jpg": "binary file"}
    assert library.search("boiler service booked", ["plain"], mode="bm25") == []


def test_switching_ocr_on_rereads_the_scans(library: DocumentLibrary, tmp_path: Path) -> None:
    folder = tmp_path / "letters"
    folder.mkdir()
    scanned_pdf(folder / "note.pdf", [SCANNED_PAGE])
    list(library.add("later", [folder], ocr=False))
    assert library.files("later")[0].status == "failed"
    list(library.add("later", [folder], ocr=True))  # the file itself has not changed
    assert library.files("later")[0].status == "indexed"
    assert best(library, "boiler service", "later").ocr


def test_closing_a_run_stops_between_pages(
    library: DocumentLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "long"
    folder.mkdir()
    scanned_pdf(folder / "long.pdf", SCANNED_PAGES[:2])
    engine = ocr_engine()
    reads: list[int] = []

    def counted(image: Image.Image) -> OcrResult:
        reads.append(1)
        return OcrEngine.read(engine, image)

    monkeypatch.setattr(engine, "read", counted)
    run = library.add("paused", [folder])
    for event in run:
        if event.type == "page":
            break
    assert isinstance(run, Generator)
    run.close()  # what Pause does: the stream's consumer goes away
    assert len(reads) == 1
    assert library.files("paused") == []  # nothing half-written
    events = list(library.sync("paused"))  # resume
    assert [e.pages_done for e in events if e.type == "page"] == [1, 2]
    assert library.files("paused")[0].chunks >= 2


def test_the_api_switches_ocr_per_collection_and_marks_ocr_hits(
    backend: InProcessRealBackend, tmp_path: Path
) -> None:
    folder = tmp_path / "api"
    folder.mkdir()
    scanned_pdf(folder / "note.pdf", [SCANNED_PAGE])
    client = backend.client()
    events = list(client.documents.add("api-scans", [folder]))
    assert [(e.pages_done, e.pages_total) for e in events if e.type == "page"] == [(1, 1)]
    (hit,) = client.documents.search("boiler service booked", ["api-scans"], k=1, mode="bm25")
    assert hit.ocr and hit.page == 1
    list(client.documents.add("api-scans", [folder], ocr=False))
    assert client.documents.collection("api-scans").ocr is False
    (note,) = client.documents.files("api-scans")
    assert note.status == "failed" and (note.error or "").startswith("no extractable text")


def test_the_cli_adds_a_collection_without_ocr(hearth_home: Path, docs: Path) -> None:
    result = run_hearth("docs", "add", str(docs), "--collection", "typed", "--no-ocr", "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["collection"]["ocr"] is False
    problems = {Path(p["path"]).name: p["reason"] for p in summary["problems"]}
    assert problems["holiday.jpg"] == "binary file"


def test_the_cli_counts_pictures_without_text_apart_from_problems(
    hearth_home: Path, tmp_path: Path
) -> None:
    (tmp_path / "pictures").mkdir()
    text_image(["Meeting moved to Friday"], size=(620, 140)).save(tmp_path / "pictures" / "a.png")
    photo_without_text(seed=5).save(tmp_path / "pictures" / "b.jpg")
    result = run_hearth("docs", "add", str(tmp_path / "pictures"), "--collection", "pics")
    assert result.code == 0, result.err
    assert "1 indexed" in result.out and "0 not indexed, 1 pictures without text" in result.out
