"""The downloads started from the Models dialog: a row each with a progress bar, Pause/Resume
and Cancel. The backend runs them one at a time; the app follows each one's events.

Pausing is the backend's cancel, which keeps what was fetched: Resume asks for the same files
again and the backend carries on from the partial file with a Range request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.models.model_text import UNFINISHED, download_line, percent

if TYPE_CHECKING:
    from backend.client import HearthClient
    from backend.wire import DownloadStatus
    from desktop.backend_connection import BackendConnection
    from desktop.workers import StreamOperation

CANCEL_TIP = "Stop and forget it here; the part fetched stays, so downloading it again resumes"
TOO_LARGE = "model_too_large"  # the backend's code for a model the memory free cannot hold


@dataclass(frozen=True)
class TooLarge:
    """The backend refused the download before any byte: the model would not fit in memory."""

    message: str


def download_events(
    api: HearthClient, repo: str, file: str | None, allow_too_big: bool
) -> Iterator[DownloadStatus | TooLarge]:
    """The download's events (worker thread). A refusal for memory is an item rather than a
    failure, so the row can ask whether to download anyway."""
    from backend.client import BackendError

    try:
        yield from api.models.download(repo, file, allow_too_big=allow_too_big)
    except BackendError as exc:
        if exc.code != TOO_LARGE:
            raise
        yield TooLarge(str(exc))


@dataclass
class DownloadJob:
    """What the user asked to download, and how far the backend has got with it."""

    repo: str
    file: str | None
    status: DownloadStatus | None = None
    allow_too_big: bool = False
    too_large: str | None = None  # why the backend refused it, until the user says go ahead
    stream: StreamOperation | None = None
    error: str | None = None
    forgotten: bool = False  # Cancel pressed: the row goes once the backend has stopped
    # Pause or Cancel pressed: "wanted" until the backend has named the download, "asked"
    # while the request to stop it is on its way, "accepted" once the backend has taken it.
    stopping: str = ""

    @property
    def running(self) -> bool:
        return self.stream is not None

    @property
    def next_step(self) -> str:
        """What the row's first button offers."""
        if self.too_large:
            return "Download anyway"
        if not self.running:
            return "Resume"
        return "Pausing…" if self.stopping else "Pause"


class DownloadRow(QFrame):
    """One download: what it fetches, its bar, its numbers, Pause/Resume and Cancel."""

    def __init__(self, job: DownloadJob, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("downloadRow")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(f"<b>{job.file or job.repo}</b> from {job.repo}", self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 100)
        self.bar.setAccessibleName(f"Download of {job.file or job.repo}")
        self.detail = QLabel("Starting…", self)
        self.detail.setWordWrap(True)
        self.pause_button = QPushButton("Pause", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip(CANCEL_TIP)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.pause_button)
        top.addWidget(self.cancel_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 6, 8, 6)
        column.addLayout(top)
        column.addWidget(self.bar)
        column.addWidget(self.detail)

    def show_job(self, job: DownloadJob) -> None:
        status = job.status
        if status is not None:
            self.bar.setValue(percent(status))
        if job.too_large:
            self.detail.setText(f"Not started: {job.too_large}")
        elif job.error:
            self.detail.setText(f"Failed: {job.error}")
        elif status is not None:
            if not job.running and status.state in UNFINISHED:
                # No longer followed (the engine restarted): what it fetched is kept.
                status = status.model_copy(update={"state": "cancelled"})
            accepted = job.running and job.stopping == "accepted"
            self.detail.setText(download_line(status) + (" · pausing" if accepted else ""))
        finished = status is not None and status.state == "finished"
        pausing = job.running and bool(job.stopping)
        self.pause_button.setText(job.next_step)
        self.bar.setVisible(not job.too_large)
        self.pause_button.setEnabled(not pausing)
        self.pause_button.setVisible(not finished)
        self.cancel_button.setText("Remove" if finished else "Cancel")


class DownloadList(QWidget):
    """Starts, follows, pauses, resumes and forgets downloads; says when a model is installed."""

    installed = Signal(str)  # the new model's name
    error = Signal(str)

    def __init__(self, connection: BackendConnection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.rows: dict[int, tuple[DownloadJob, DownloadRow]] = {}
        self._column = QVBoxLayout(self)
        self._column.setContentsMargins(0, 0, 0, 0)
        self.empty = QLabel("No downloads yet.", self)
        self._column.addWidget(self.empty)

    def start(self, repo: str, file: str | None) -> DownloadJob:
        job = DownloadJob(repo, file)
        row = DownloadRow(job, self)
        self.rows[id(job)] = (job, row)
        row.pause_button.clicked.connect(lambda: self.pause_or_resume(job))
        row.cancel_button.clicked.connect(lambda: self.cancel(job))
        self._column.addWidget(row)
        self.empty.setVisible(False)
        self._follow(job)
        return job

    def pause_or_resume(self, job: DownloadJob) -> None:
        if job.running:
            self._stop_backend_download(job)
            return
        if job.too_large:  # the user read why and goes ahead
            job.allow_too_big, job.too_large = True, None
        self._follow(job)

    def cancel(self, job: DownloadJob) -> None:
        job.forgotten = True
        if job.running:
            self._stop_backend_download(job)  # the row goes when its stream ends
        else:
            self._remove(job)

    def _follow(self, job: DownloadJob) -> None:
        """Ask the backend for the download (again: it resumes) and follow its events."""
        repo, file, allow = job.repo, job.file, job.allow_too_big
        stream = self.connection.stream(lambda api: download_events(api, repo, file, allow))
        if stream is None:
            self._ended(job, "The engine is not running yet.")
            return
        job.stream, job.error, job.stopping = stream, None, ""
        stream.signals.item.connect(lambda status: self._progressed(job, status))
        self.connection.runner.start(
            stream, lambda _done: self._ended(job, None), lambda why: self._ended(job, why)
        )
        self._show(job)

    def _stop_backend_download(self, job: DownloadJob) -> None:
        status = job.status
        if status is None or status.state not in UNFINISHED:
            job.stopping = "wanted"  # the stream's first event names it: stopped then
        else:
            job.stopping = "asked"
            download_id = status.id
            self.connection.call(
                lambda api: api.models.cancel_download(download_id),
                lambda _status: self._stop_accepted(job),
                self.error.emit,
            )
        self._show(job)

    def _stop_accepted(self, job: DownloadJob) -> None:
        """The backend stops at its next chunk; until then the row says it is pausing."""
        if job.running and job.stopping == "asked":
            job.stopping = "accepted"
            self._show(job)

    def _progressed(self, job: DownloadJob, status: DownloadStatus | TooLarge) -> None:
        if isinstance(status, TooLarge):
            job.too_large = status.message
            self._show(job)
            return
        job.status = status
        self._show(job)
        if job.stopping == "wanted" and status.state in UNFINISHED:
            self._stop_backend_download(job)
        if status.state == "finished" and status.model:
            self.installed.emit(status.model)

    def _ended(self, job: DownloadJob, error: str | None) -> None:
        job.stream, job.error = None, error
        if error:
            self.error.emit(error)
        if job.forgotten:
            self._remove(job)
        else:
            self._show(job)

    def _show(self, job: DownloadJob) -> None:
        entry = self.rows.get(id(job))
        if entry is not None:
            entry[1].show_job(job)

    def _remove(self, job: DownloadJob) -> None:
        _job, row = self.rows.pop(id(job))
        row.deleteLater()
        self.empty.setVisible(not self.rows)
