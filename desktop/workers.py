"""Background work for the GUI: one call or one stream per QRunnable, reported through signals;
long streams and short calls run on separate thread pools."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


def describe_error(exc: BaseException) -> str:
    """A sentence for the user, never a traceback. Runs on workers, so importing the client
    (and httpx) here keeps it off the path to the window's first paint."""
    from backend.client import BackendError
    from backend.errors import HearthError

    if isinstance(exc, BackendError | HearthError):  # both written for the user
        return str(exc)
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class OperationSignals(QObject):
    """Lives on the GUI thread, so connected slots run there even though a worker emits."""

    item = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()


class Operation(QRunnable):
    """Runs `call()` off the GUI thread; its result or error arrives as a signal."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps the Python object until `finished`
        self.signals = OperationSignals()
        self._call = call

    def run(self) -> None:
        try:
            result = self._call()
        except Exception as exc:  # reported to the user, never swallowed
            self.signals.failed.emit(describe_error(exc))
        else:
            self.signals.succeeded.emit(result)
        finally:
            self.signals.finished.emit()


class StreamOperation(Operation):
    """Iterates a generator off the GUI thread; each item is a signal, and `stop()` is honoured
    between items. Closing the generator early closes its HTTP stream, which the backend sees as
    a disconnect and so cancels the generation."""

    def __init__(self, open_stream: Callable[[], Iterator[Any]]) -> None:
        super().__init__(self._drain)
        self._open_stream = open_stream
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _drain(self) -> bool:
        """True when the stream ran to its end, False when it was stopped."""
        stream = self._open_stream()
        try:
            for item in stream:
                if self._stop.is_set():
                    return False
                self.signals.item.emit(item)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return not self._stop.is_set()


class TaskRunner(QObject):
    """Owns the worker threads and keeps each operation alive until it has finished.

    A stream (a reply, an indexing run) holds its thread for minutes, so streams get a pool of
    their own: however many are running, a short task (the health probe, a thumbnail, a folder
    walk) never waits behind them."""

    def __init__(
        self, parent: QObject | None = None, max_threads: int = 4, max_streams: int = 4
    ) -> None:
        super().__init__(parent)
        self._tasks = QThreadPool(self)
        self._tasks.setMaxThreadCount(max_threads)
        self._streams = QThreadPool(self)
        self._streams.setMaxThreadCount(max_streams)
        self._running: set[Operation] = set()

    def submit(
        self,
        call: Callable[[], Any],
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> Operation:
        return self.start(Operation(call), on_success, on_failure)

    def start(
        self,
        operation: Operation,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> Operation:
        if on_success is not None:
            operation.signals.succeeded.connect(lambda result: on_success(result))
        if on_failure is not None:
            operation.signals.failed.connect(lambda message: on_failure(message))
        operation.signals.finished.connect(lambda: self._running.discard(operation))
        self._running.add(operation)
        pool = self._streams if isinstance(operation, StreamOperation) else self._tasks
        pool.start(operation)
        return operation

    @property
    def idle(self) -> bool:
        return not self._running

    def stop_streams(self) -> None:
        for operation in list(self._running):
            if isinstance(operation, StreamOperation):
                operation.stop()

    def wait(self, timeout_ms: int = 20_000) -> bool:
        """Used at shutdown only, after the window is gone."""
        self.stop_streams()
        deadline = time.monotonic() + timeout_ms / 1000
        streams_done = self._streams.waitForDone(timeout_ms)
        left_ms = max(0, int((deadline - time.monotonic()) * 1000))
        return self._tasks.waitForDone(left_ms) and streams_done
