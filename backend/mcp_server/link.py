"""The backend the MCP tools call: the one serving HEARTH_HOME when there is one, else one this
server starts on first use and stops when it ends (the rule of `hearth docs` and `hearth chat`)."""

from __future__ import annotations

import logging
import subprocess
import threading

from backend.client import HearthClient, start_backend, stop_backend
from backend.discovery import load_or_create_token, read_backend_info
from backend.paths import HomeLayout
from backend.settings import Settings

log = logging.getLogger(__name__)


class BackendLink:
    """Finds the backend again before every call, so a backend that stopped (the app closed)
    is replaced instead of failing every later call. It is started lazily: listing the tools
    must not wait for a model server that the agent may never call."""

    def __init__(self, layout: HomeLayout) -> None:
        self._layout = layout
        self._lock = threading.Lock()  # tools run on worker threads: one start at a time
        self._client: HearthClient | None = None
        self._child: subprocess.Popen[bytes] | None = None

    def client(self) -> HearthClient:
        with self._lock:
            info = read_backend_info(self._layout)
            if info is None:
                self._stop_child()  # ours, if it died: reaped before starting another
                Settings.load(self._layout)  # a broken settings.json is named, not a failed start
                log.info("no backend is serving %s: starting one", self._layout.root)
                self._child, info = start_backend(self._layout)
            if self._client is None or self._client.url != info.url:
                if self._client is not None:
                    self._client.close()
                log.info("using the backend at %s (pid %d)", info.url, info.pid)
                self._client = HearthClient(info.url, load_or_create_token(self._layout))
            return self._client

    def close(self) -> None:
        """Stop the backend this server started, if any; one that was already serving stays.
        Takes no lock: it also runs from a signal handler while a start may hold it."""
        if self._client is not None:
            self._client.close()
        self._stop_child()

    def _stop_child(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            stop_backend(child)
