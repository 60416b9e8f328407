"""The state of one indexing run, folded from the backend's ingest events (no Qt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from backend.wire import FILE_STEPS, IngestEvent


@dataclass
class IngestProgress:
    """Files and chunks done, the file just finished, and every file that could not be read;
    then, once the collection is searchable by keywords, the chunks given their vectors."""

    collection: str
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    searchable: bool = False  # phase one done: every chunk found by keywords
    chunks_embedded: int = 0
    chunks_to_embed: int = 0
    current: str = ""
    page: str = ""  # while OCR reads a scan: "page 3 of 12"
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    finished: bool = False
    paused: bool = False
    waiting_for_engine: bool = False
    error: str | None = None

    def apply(self, event: IngestEvent) -> None:
        """One event of the run; a run that fails ends its stream with an error instead, which
        the client raises."""
        self.files_done = event.files_done
        self.files_total = event.files_total
        self.chunks_done = event.chunks_done
        self.chunks_embedded, self.chunks_to_embed = event.chunks_embedded, event.chunks_to_embed
        if event.type == "searchable":
            self.searchable = True
        if event.type in FILE_STEPS and event.path:
            self.current, self.page = event.path, ""
        if event.type == "page" and event.path:
            self.current = event.path
            self.page = f"reading page {event.pages_done:,} of {event.pages_total:,} by OCR"
        if event.type in ("failed", "skipped"):
            self.failures.append((event.path or "", event.detail or event.type))
        if event.type == "finished":
            self.finished = True

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        if self.searchable:
            done, total = self.chunks_embedded, self.chunks_to_embed
        else:
            done, total = self.files_done, self.files_total
        return int(100 * done / total) if total else 0

    def summary(self) -> str:
        """Like "notes: 12 of 40 files · 230 chunks written"."""
        if self.error:
            return f"{self.collection}: indexing failed: {self.error}"
        if self.waiting_for_engine:
            return f"{self.collection}: waiting for the engine to start"
        if self.searchable and not self.finished:
            return self._embedding_summary()
        state = "paused" if self.paused else "up to date" if self.finished else "indexing"
        counts = f"{self.files_done:,} of {self.files_total:,} files"
        if self.finished:  # "12 of 12 files · 1 not indexed" read as if all twelve were
            counts = f"{self.files_done - len(self.failures):,} files indexed"
        chunks = f"{self.chunks_done:,} chunks written"
        failed = self._failed_note()
        return f"{self.collection}: {state}, {counts} · {chunks}{failed}"

    def _embedding_summary(self) -> str:
        """Like "notes: searchable by keywords · embedding 230 of 900 chunks"."""
        state = " (paused)" if self.paused else ""
        embedding = f"embedding {self.chunks_embedded:,} of {self.chunks_to_embed:,} chunks"
        failed = self._failed_note()
        return f"{self.collection}: searchable by keywords · {embedding}{state}{failed}"

    def _failed_note(self) -> str:
        count = len(self.failures)
        return f" · {count:,} could not be read (see why below)" if count else ""

    def current_line(self) -> str:
        if self.finished or self.searchable or not self.current:
            return ""
        path = Path(self.current)
        page = f"  ({self.page})" if self.page else ""
        return f"{path.name}{page}  —  {path.parent}"
