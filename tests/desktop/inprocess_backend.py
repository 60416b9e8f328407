"""The real backend app served in this process: FastAPI and uvicorn on loopback in a thread,
the real store, registry and settings, and a scripted FakeProvider for the model. It writes
backend.json, so a window's BackendConnection finds it as an already running backend: real
HTTP, SSE and SQLite, with replies that come when the test says."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from backend import __version__
from backend.discovery import (
    BackendInfo,
    load_or_create_token,
    remove_backend_info,
    write_backend_info,
)
from backend.paths import HomeLayout
from backend.server.app import create_app
from backend.server.main import bind_loopback
from backend.server.services import Services
from tests.backend.fakes import FakeProvider, open_services

START_TIMEOUT_S = 10


@dataclass
class InProcessBackend:
    layout: HomeLayout
    provider: FakeProvider
    services: Services
    info: BackendInfo
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving (the lifespan closes the services) and forget backend.json."""
        self.provider.release()  # a held reply would keep the graceful shutdown waiting
        self._server.should_exit = True
        self._thread.join(timeout=START_TIMEOUT_S)
        assert not self._thread.is_alive(), "the in-process backend did not stop"
        remove_backend_info(self.layout, self.info.pid)


def serve_in_process(home: Path, provider: FakeProvider, **settings: object) -> InProcessBackend:
    """Serve `home` with `provider`; settings.json says what the backend's settings are, so the
    window reads the same default model."""
    layout = HomeLayout(home).ensure()
    services = open_services(home, provider, **settings)
    layout.settings.write_text(services.settings.model_dump_json())
    sock = bind_loopback(0)
    app = create_app(services, load_or_create_token(layout))
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    # Off the main thread uvicorn installs no signal handlers: the test process keeps its own.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.005)  # uvicorn has no started event to wait on
    info = BackendInfo(port=sock.getsockname()[1], pid=os.getpid(), version=__version__)
    write_backend_info(layout, info)
    return InProcessBackend(layout, provider, services, info, server, thread)
