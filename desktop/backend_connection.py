"""The GUI's link to `hearth serve`: find or start it, watch it, restart it when it dies."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from backend.discovery import BackendInfo, load_or_create_token, read_backend_info
from backend.paths import HomeLayout
from desktop.backend_state import BackendState
from desktop.workers import Operation, StreamOperation, TaskRunner

if TYPE_CHECKING:  # the client (and httpx) loads on the worker that connects
    from backend.client import HearthClient

WATCH_INTERVAL_MS = 1000
# More crashes than this within the window means something is wrong that a restart won't fix.
MAX_RESTARTS = 3
RESTART_WINDOW_S = 120.0


def connect_or_start(layout: HomeLayout) -> tuple[subprocess.Popen[bytes] | None, HearthClient]:
    """A client for the backend named in backend.json, or for a child started now (blocking)."""
    # httpx is imported here, on the worker, rather than before the window's first paint.
    from backend.client import BackendError, HearthClient, start_backend

    layout.ensure()
    token = load_or_create_token(layout)
    info: BackendInfo | None = read_backend_info(layout)
    if info is not None:
        api = HearthClient(info.url, token)
        try:
            api.health()
            return None, api
        except BackendError:
            api.close()  # a stale or hung process; start our own instead
    child, info = start_backend(layout)
    return child, HearthClient(info.url, token)


class BackendConnection(QObject):
    """Owns the child backend (when the GUI started it), the API client and its worker threads."""

    state_changed = Signal(object, str)  # BackendState, a sentence for the user
    connected = Signal()  # after the first start and after every restart
    lost = Signal(str)  # the backend died; a restart follows

    def __init__(self, layout: HomeLayout, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.layout = layout
        self.runner = TaskRunner(self)
        self.api: HearthClient | None = None
        self.state = BackendState.STARTING
        self._child: subprocess.Popen[bytes] | None = None
        self._restarts: list[float] = []
        self._probing = False
        self._closing = False
        self._watch = QTimer(self)
        self._watch.setInterval(WATCH_INTERVAL_MS)
        self._watch.timeout.connect(self._check_alive)

    @property
    def child_pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def is_ready(self) -> bool:
        return self.state in (BackendState.READY, BackendState.BUSY)

    def start(self, detail: str = "Starting the engine…") -> None:
        self._set_state(BackendState.STARTING, detail)
        self.runner.submit(
            lambda: connect_or_start(self.layout), self._on_started, self._on_start_failed
        )

    def call(
        self,
        method: Callable[[HearthClient], Any],
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> Operation | None:
        """Run `method(api)` on a worker; fails at once when no backend is connected, or once
        shutdown has begun (an answer it delivers may ask for more, after the workers ended)."""
        api = self.api
        if api is None or not self.is_ready or self._closing:
            if on_failure is not None:
                on_failure("The engine is not running yet.")
            return None
        return self.runner.submit(lambda: method(api), on_success, on_failure)

    def stream(
        self, open_stream: Callable[[HearthClient], Iterator[Any]]
    ) -> StreamOperation | None:
        """A stream operation, not yet started: connect its signals, then `runner.start` it."""
        api = self.api
        if api is None or not self.is_ready:
            return None
        return StreamOperation(lambda: open_stream(api))

    def restart(self, reason: str) -> bool:
        """Stop the backend this window started and start it again, to take up new settings.
        False for a backend that was running before the window: only its owner restarts it."""
        child, api = self._child, self.api
        if child is None or self._closing:
            return False
        self._watch.stop()
        self.runner.stop_streams()
        self._child, self.api = None, None
        self._set_state(BackendState.STARTING, reason)

        def stop_then_start() -> tuple[subprocess.Popen[bytes] | None, HearthClient]:
            from backend.client import stop_backend  # already loaded by the first start

            if api is not None:
                api.close()
            stop_backend(child)
            return connect_or_start(self.layout)

        self.runner.submit(stop_then_start, self._on_started, self._on_start_failed)
        return True

    def set_busy(self, busy: bool) -> None:
        if self.is_ready:
            state = BackendState.BUSY if busy else BackendState.READY
            self._set_state(state, "Generating…" if busy else "Ready")

    def check_now(self) -> None:
        """Called when a request failed: find out at once whether the backend is gone."""
        self._check_alive()

    def shutdown(self) -> None:
        """Stop watching, finish the workers, and stop the backend only if the GUI started it.

        Called after the event loop has ended, so waiting here blocks no window."""
        self._closing = True
        self._watch.stop()
        self.runner.wait()
        # A start that finished after the event loop ended reports through a queued signal:
        # deliver it now, so a backend started meanwhile is known and stopped below.
        QCoreApplication.sendPostedEvents()
        if self.api is not None:
            self.api.close()
            self.api = None
        if self._child is not None:
            from backend.client import stop_backend  # already loaded by the start

            stop_backend(self._child)
            self._child = None

    def _on_started(self, result: tuple[subprocess.Popen[bytes] | None, HearthClient]) -> None:
        self._child, self.api = result
        if self._closing:
            return
        who = "started by Hearth" if self._child is not None else "already running"
        self._set_state(BackendState.READY, f"Ready ({who})")
        self._watch.start()
        self.connected.emit()

    def _on_start_failed(self, message: str) -> None:
        self._set_state(BackendState.ERROR, f"The engine could not start: {message}")

    def _check_alive(self) -> None:
        if self._closing or self.state == BackendState.STARTING:
            return
        if self._child is not None:
            code = self._child.poll()  # waitpid(WNOHANG): never blocks
            if code is not None:
                self._on_lost(f"The engine stopped unexpectedly (exit code {code}).")
            return
        if not self._probing and self.api is not None:
            self._probing = True
            self.runner.submit(self.api.health, self._on_probe_ok, self._on_probe_failed)

    def _on_probe_ok(self, _health: object) -> None:
        self._probing = False

    def _on_probe_failed(self, message: str) -> None:
        self._probing = False
        self._on_lost(f"The engine stopped answering: {message}")

    def _on_lost(self, reason: str) -> None:
        self._watch.stop()
        self.runner.stop_streams()
        if self.api is not None:
            self.api.close()
            self.api = None
        self._child = None
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_S] + [now]
        self.lost.emit(reason)
        if len(self._restarts) > MAX_RESTARTS:
            self._set_state(
                BackendState.ERROR,
                f"{reason} It crashed {len(self._restarts)} times in two minutes, so Hearth "
                f"stopped restarting it; see {self.layout.logs / 'backend.log'}.",
            )
            return
        self.start(f"{reason} Restarting…")

    def _set_state(self, state: BackendState, detail: str) -> None:
        self.state = state
        self.state_changed.emit(state, detail)
