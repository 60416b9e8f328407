"""The state of one indexing run, folded from the backend's ingest events (no Qt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from backend.wire import FILE_STEPS, IngestEvent


@dataclass
class IngestProgress:
    """Files and chunks done, the file just finished, and every file that could not be read."""

    collection: str
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    current: str = ""
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
        if event.type in FILE_STEPS and event.path:
            self.current = event.path
        if event.type in ("failed", "skipped"):
            self.failures.append((event.path or "", event.detail or event.type))
        if event.type == "finished":
            self.finished = True

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return int(100 * self.files_done / self.files_total) if self.files_total else 0

    def summary(self) -> str:
        """Like "notes: 12 of 40 files · 230 chunks written"."""
        if self.error:
            return f"{self.collection}: indexing failed: {self.error}"
        if self.waiting_for_engine:
            return f"{self.collection}: waiting for the engine to start"
        state = "paused" if self.paused else "up to date" if self.finished else "indexing"
        counts = f"{self.files_done:,} of {self.files_total:,} files"
        chunks = f"{self.chunks_done:,} chunks written"
        failed = f" · {len(self.failures)} not indexed" if self.failures else ""
        return f"{self.collection}: {state}, {counts} · {chunks}{failed}"

    def current_line(self) -> str:
        if self.finished or not self.current:
            return ""
        path = Path(self.current)
        return f"{path.name}  —  {path.parent}"
