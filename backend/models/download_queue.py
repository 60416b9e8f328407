"""Downloads the backend runs for the app: queued, one at a time on one worker thread, each
with a status that watchers follow as it changes, and a cancel that keeps what was fetched."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from backend.errors import HearthError, NotFoundError
from backend.models.download import (
    DownloadCancelledError,
    DownloadPlan,
    Listener,
    Progress,
    run_download,
)
from backend.models.split import unsplit_stem
from backend.wire import DownloadState, DownloadStatus

log = logging.getLogger(__name__)

FINAL_STATES: frozenset[DownloadState] = frozenset({"finished", "failed", "cancelled"})
PROGRESS_INTERVAL_S = 0.1  # watchers hear of progress at most this often; of a new state at once
HEARTBEAT_S = 1.0  # a watcher gets the status at least this often, so a gone client is noticed

Runner = Callable[[DownloadPlan, Listener, threading.Event], Path]


class UnknownDownloadError(NotFoundError):
    code = "download_not_found"


@dataclass
class _Job:
    id: str
    plan: DownloadPlan
    state: DownloadState = "queued"
    progress: Progress | None = None
    model: str | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def status(self) -> DownloadStatus:
        progress = self.progress
        return DownloadStatus(
            id=self.id,
            repo=self.plan.repo,
            revision=self.plan.revision,
            files=[f.name for f in self.plan.files],
            state=self.state,
            bytes_done=progress.bytes_done if progress else 0,
            bytes_total=self.plan.total_bytes,
            rate=progress.rate if progress else 0.0,
            eta_seconds=progress.eta_seconds if progress else None,
            current_file=progress.current_file if progress else "",
            model=self.model,
            error=self.error,
        )


class DownloadQueue:
    """Every download the backend was asked for since it started, oldest first."""

    def __init__(self, runner: Runner = run_download) -> None:
        self._runner = runner
        self._jobs: dict[str, _Job] = {}
        self._waiting: deque[_Job] = deque()
        self._changed = threading.Condition()
        self._version = 0
        self._worker: threading.Thread | None = None
        self._closed = False

    def submit(self, plan: DownloadPlan) -> DownloadStatus:
        job = _Job(uuid.uuid4().hex[:12], plan)
        with self._changed:
            self._jobs[job.id] = job
            self._waiting.append(job)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="downloads", daemon=True)
                self._worker.start()
            self._touch()
            return job.status()

    def statuses(self) -> list[DownloadStatus]:
        with self._changed:
            return [job.status() for job in self._jobs.values()]

    def status(self, download_id: str) -> DownloadStatus:
        with self._changed:
            return self._job(download_id).status()

    def cancel(self, download_id: str) -> DownloadStatus:
        """Stop it; a queued one never starts, a running one stops at its next chunk."""
        with self._changed:
            job = self._job(download_id)
            job.cancel.set()
            if job.state == "queued":
                self._waiting.remove(job)
                job.state = "cancelled"
                self._touch()
            return job.status()

    def watch(self, download_id: str) -> Iterator[DownloadStatus]:
        """Its status now and after each change, until it has finished, failed or been
        cancelled; at least every HEARTBEAT_S meanwhile."""
        seen = -1
        while True:
            with self._changed:
                if self._version == seen:
                    self._changed.wait(timeout=HEARTBEAT_S)
                seen = self._version
                status = self._job(download_id).status()
            yield status
            if status.state in FINAL_STATES:
                return

    def close(self) -> None:
        """Cancel everything; partial files stay for the next run to resume."""
        with self._changed:
            self._closed = True
            for job in self._jobs.values():
                job.cancel.set()
            self._touch()
        if self._worker is not None:
            self._worker.join(timeout=10)

    def _job(self, download_id: str) -> _Job:
        job = self._jobs.get(download_id)
        if job is None:
            raise UnknownDownloadError(f"no download with id {download_id!r}")
        return job

    def _touch(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def _next(self) -> _Job | None:
        with self._changed:
            if self._closed or not self._waiting:
                return None
            job = self._waiting.popleft()
            job.state = "downloading"
            self._touch()
            return job

    def _work(self) -> None:
        while (job := self._next()) is not None:
            self._run(job)

    def _run(self, job: _Job) -> None:
        last = 0.0

        def listen(progress: Progress) -> None:
            nonlocal last
            with self._changed:
                state_changed = job.state != progress.state
                job.progress, job.state = progress, progress.state
                if state_changed or time.monotonic() - last >= PROGRESS_INTERVAL_S:
                    last = time.monotonic()
                    self._touch()

        try:
            model = self._runner(job.plan, listen, job.cancel)
            self._end(job, "finished", model=unsplit_stem(model))
        except DownloadCancelledError:
            self._end(job, "cancelled")
        except HearthError as exc:
            self._end(job, "failed", error=str(exc))
        except Exception as exc:  # a bug or an I/O failure: the queue goes on with the next
            log.error("download of %s failed", job.plan.repo, exc_info=exc)
            self._end(job, "failed", error=f"{type(exc).__name__}: {exc}")

    def _end(
        self, job: _Job, state: DownloadState, model: str | None = None, error: str | None = None
    ) -> None:
        with self._changed:
            job.state, job.model, job.error = state, model, error
            if job.progress is not None and state == "finished":
                job.progress.bytes_done = job.plan.total_bytes
            self._touch()
