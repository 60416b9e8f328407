"""The Documents panel's progress line across indexing's two phases (no Qt needed)."""

from __future__ import annotations

from backend.wire import IngestEvent
from desktop.documents.ingest_progress import IngestProgress


def event(step: str, **fields: object) -> IngestEvent:
    return IngestEvent.model_validate({"type": step, "collection": "notes", **fields})


def test_progress_counts_files_then_chunks_embedded() -> None:
    progress = IngestProgress("notes")
    progress.apply(event("planned", files_total=4))
    progress.apply(event("indexed", path="/n/a.md", files_done=2, files_total=4, chunks_done=30))
    assert progress.percent == 50
    assert progress.summary() == "notes: indexing, 2 of 4 files · 30 chunks written"
    assert progress.current_line().startswith("a.md")
    done = {"files_done": 4, "files_total": 4, "chunks_done": 60}
    progress.apply(event("searchable", **done))
    embedding = {**done, "phase": "embed", "chunks_to_embed": 60}
    progress.apply(event("embedded", chunks_embedded=15, **embedding))
    assert progress.percent == 25  # now the share of chunks with their vector
    assert progress.summary() == "notes: searchable by keywords · embedding 15 of 60 chunks"
    assert progress.current_line() == ""
    progress.paused = True
    assert progress.summary().endswith("embedding 15 of 60 chunks (paused)")
    progress.paused = False  # resumed
    progress.apply(event("finished", chunks_embedded=60, **embedding))
    assert progress.percent == 100 and "up to date" in progress.summary()


def test_a_scan_read_by_ocr_shows_its_page() -> None:
    """#19: progress counts pages while OCR reads a scanned PDF."""
    progress = IngestProgress("letters")
    progress.apply(event("planned", files_total=2))
    progress.apply(event("page", path="/l/scan.pdf", pages_done=3, pages_total=12))
    assert progress.current_line() == "scan.pdf  (reading page 3 of 12 by OCR)  —  /l"
    progress.apply(event("indexed", path="/l/scan.pdf", files_done=1, files_total=2))
    assert progress.current_line() == "scan.pdf  —  /l"
