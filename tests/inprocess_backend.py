"""The real backend app served in this process: FastAPI and uvicorn on loopback in a thread,
writing backend.json, so a window's BackendConnection or a CLI finds it as an already running
backend. `serve_services` serves the real `Services.open` (llama.cpp, images, documents), for
tests whose subject is the API and the engine rather than the `hearth serve` process;
`serve_in_process` serves the real store, registry and settings around a scripted FakeProvider:
real HTTP, SSE and SQLite, with replies that come when the test says. The real embedder is
behind a gate too, so an indexing run can be held between batches, and the server tells which
requests it is still handling, so a test can wait until it has seen a client leave."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from backend.settings import Settings
from tests.backend.fakes import FakeProvider, GatedEmbedder, gate_embedder, open_services

START_TIMEOUT_S = 10


@dataclass
class OpenRequests:
    """ASGI middleware counting the requests the app is handling, by path. A stream's handler
    returns only once it has seen its client leave, so `open(path) == 0` after a client closed a
    stream means the server has taken the disconnect in."""

    app: Any
    _open: Counter[str] = field(default_factory=Counter)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        self._open[path] += 1  # only the server's event loop writes
        try:
            await self.app(scope, receive, send)
        finally:
            self._open[path] -= 1

    def open(self, path: str) -> int:
        return self._open[path]


@dataclass
class ServedApp:
    """`services` served by uvicorn in a thread; `stop` ends serving, the app's lifespan closes
    the services (the llama.cpp runtime with them) and backend.json is removed."""

    layout: HomeLayout
    services: Services
    info: BackendInfo
    requests: OpenRequests
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=START_TIMEOUT_S)
        assert not self._thread.is_alive(), "the in-process backend did not stop"
        remove_backend_info(self.layout, self.info.pid)


def serve_services(layout: HomeLayout, services: Services | None = None) -> ServedApp:
    """Serve `services`, by default the real ones `hearth serve` opens for `layout`."""
    services = services or Services.open(layout.ensure(), Settings.load(layout))
    sock = bind_loopback(0)
    app = OpenRequests(create_app(services, load_or_create_token(layout)))
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    # Off the main thread uvicorn installs no signal handlers: the test process keeps its own.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() >= deadline:
            services.close()  # nothing else would: the lifespan never ran or never ends
            raise AssertionError("uvicorn did not start")
        time.sleep(0.005)  # uvicorn has no started event to wait on
    info = BackendInfo(port=sock.getsockname()[1], pid=os.getpid(), version=__version__)
    write_backend_info(layout, info)
    return ServedApp(layout, services, info, app, server, thread)


@dataclass
class InProcessBackend:
    served: ServedApp
    provider: FakeProvider
    embedder: GatedEmbedder

    @property
    def layout(self) -> HomeLayout:
        return self.served.layout

    @property
    def services(self) -> Services:
        return self.served.services

    @property
    def info(self) -> BackendInfo:
        return self.served.info

    @property
    def requests(self) -> OpenRequests:
        return self.served.requests

    def stop(self) -> None:
        """Stop serving (the lifespan closes the services) and forget backend.json."""
        self.provider.release()  # a held reply would keep the graceful shutdown waiting
        self.embedder.release()  # and a held batch the indexing run's thread
        self.served.stop()


def serve_in_process(home: Path, provider: FakeProvider, **settings: object) -> InProcessBackend:
    """Serve `home` with `provider`; settings.json says what the backend's settings are, so the
    window reads the same default model."""
    layout = HomeLayout(home).ensure()
    services = open_services(home, provider, **settings)
    embedder = gate_embedder(services)
    layout.settings.write_text(services.settings.model_dump_json())
    return InProcessBackend(serve_services(layout, services), provider, embedder)
