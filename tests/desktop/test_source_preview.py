"""The source preview says when a cited passage was read by OCR, and where from."""

from __future__ import annotations

from backend.wire import Source
from desktop.documents.source_preview import SourcePreviewDialog


def source(ocr: bool, page: int | None) -> Source:
    return Source(
        n=1,
        collection="scans",
        path="/home/ann/scans/letter.pdf" if page else "/home/ann/scans/receipt.png",
        page=page,
        start_line=1,
        end_line=2,
        snippet="The boiler service is booked\nfor the second of March.",
        ocr=ocr,
        score=0.8,
    )


def test_a_passage_read_by_ocr_says_so_with_its_page(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = SourcePreviewDialog(source(ocr=True, page=3), dark=False)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.ocr_label.isVisible()
    assert dialog.ocr_label.text() == "Text read by OCR from page 3"
    assert dialog.location_label.text() == "page 3, lines 1–2"
    picture = SourcePreviewDialog(source(ocr=True, page=None), dark=False)
    qtbot.addWidget(picture)
    assert picture.ocr_label.text() == "Text read by OCR from the picture"


def test_a_passage_from_the_text_layer_says_nothing_of_ocr(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = SourcePreviewDialog(source(ocr=False, page=3), dark=False)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.ocr_label.isVisible() and dialog.ocr_label.text() == ""
    stored = Source.model_validate(source(False, 3).model_dump(exclude={"ocr"}))
    assert stored.ocr is False  # a reply stored before OCR existed opens as before
