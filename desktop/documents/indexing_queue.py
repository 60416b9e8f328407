"""Indexing jobs for the documents panel: one ingest stream at a time, pause and resume."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from backend.wire import IngestEvent
from desktop.backend_connection import BackendConnection
from desktop.documents.ingest_progress import IngestProgress
from desktop.workers import StreamOperation


class IndexingQueue(QObject):
    """Runs add and sync jobs one after another (the backend indexes under one lock anyway).

    Pausing closes the stream and holds the jobs still waiting; the backend's indexing is
    crash-safe and skips finished files, so resuming is simply a sync of the same collection,
    first in line. Jobs wait out an engine restart and run once it is back."""

    progressed = Signal(object)  # IngestProgress, after every event
    ended = Signal(object)  # IngestProgress: finished, paused or failed

    def __init__(self, connection: BackendConnection, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.progress: IngestProgress | None = None
        self._waiting: list[tuple[str, list[str] | None]] = []  # (collection, paths to add)
        self._stream: StreamOperation | None = None
        self._paused = False
        connection.connected.connect(self._start_next)

    @property
    def running(self) -> bool:
        return self._stream is not None

    def add(self, name: str, paths: list[str]) -> None:
        self._waiting.append((name, paths))
        self._start_next()

    def sync(self, name: str) -> None:
        if (name, None) in self._waiting:
            return  # one waiting sync already picks up every change
        self._waiting.append((name, None))
        self._start_next()

    def pause(self) -> None:
        if self._stream is not None:
            self._paused = True
            self._stream.stop()

    def resume(self) -> None:
        self._paused = False
        if self.progress is not None and self.progress.paused:
            resumed = (self.progress.collection, None)
            self._waiting = [resumed] + [job for job in self._waiting if job != resumed]
        self._start_next()

    def _start_next(self) -> None:
        if self._stream is not None or self._paused or not self._waiting:
            return
        name, paths = self._waiting[0]
        progress = IngestProgress(name)
        stream = self.connection.stream(
            (lambda api: api.documents.add(name, paths))
            if paths
            else (lambda api: api.documents.sync(name))
        )
        if stream is None:  # tried again when the engine is back
            progress.waiting_for_engine = True
            self.progressed.emit(progress)
            return
        self._waiting.pop(0)
        self.progress, self._stream = progress, stream
        stream.signals.item.connect(lambda event: self._on_event(progress, event))
        self.connection.runner.start(
            stream,
            lambda completed: self._on_end(progress, completed),
            lambda message: self._on_failed(progress, message),
        )
        self.progressed.emit(progress)

    def _on_event(self, progress: IngestProgress, event: IngestEvent) -> None:
        if progress.paused or self._stream is None or self._stream.stopped:
            return  # events already queued when Pause was pressed
        progress.apply(event)
        self.progressed.emit(progress)

    def _on_end(self, progress: IngestProgress, completed: bool) -> None:
        progress.paused = not completed
        self._finish(progress)

    def _on_failed(self, progress: IngestProgress, message: str) -> None:
        progress.error = message
        self._finish(progress)

    def _finish(self, progress: IngestProgress) -> None:
        self._stream = None
        self.ended.emit(progress)
        self._start_next()
