"""The state of one indexing run, folded from the backend's ingest events (no Qt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Events that end one file; "planned" and "finished" frame the run.
FILE_EVENTS = {"indexed", "unchanged", "failed", "skipped", "removed"}


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

    def apply(self, event: dict[str, Any]) -> None:
        if "error" in event:  # the run itself failed, reported in the stream
            self.error = str(event["error"].get("message", event["error"]))
            return
        self.files_done = event.get("files_done", self.files_done)
        self.files_total = event.get("files_total", self.files_total)
        self.chunks_done = event.get("chunks_done", self.chunks_done)
        kind = event.get("kind")
        if kind in FILE_EVENTS and event.get("path"):
            self.current = event["path"]
        if kind in ("failed", "skipped"):
            self.failures.append((event.get("path") or "", event.get("detail") or kind))
        if kind == "finished":
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
