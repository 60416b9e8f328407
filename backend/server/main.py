"""`hearth serve`: bind loopback, publish port and pid in backend.json, serve until SIGTERM."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from backend import __version__
from backend.discovery import (
    BackendInfo,
    load_or_create_token,
    remove_backend_info,
    write_backend_info,
)
from backend.errors import HearthError
from backend.logs import configure_logging
from backend.paths import HomeLayout, start_private
from backend.settings import Settings

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)
SignalHandler = Callable[[int, FrameType | None], Any] | int | None

LOOPBACK = "127.0.0.1"
# How long SIGTERM waits for in-flight requests before the lifespan cancels them.
GRACEFUL_SHUTDOWN_S = 5


class PortInUseError(HearthError):
    """Another program already listens on the port asked for."""

    code = "port_in_use"


def bind_loopback(port: int) -> socket.socket:
    """Bind before uvicorn starts, so a free port (0) is known without a race."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if sys.platform == "win32":  # there SO_REUSEADDR would let a second server take the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
    else:  # a restart may reuse the port while the last run's connections are in TIME_WAIT
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(f"port {port} is in use; pick another or omit --port") from exc
        raise
    sock.listen(128)
    return sock


def bind_preferred(port: int) -> socket.socket:
    """The settings' port when it is free, so tools keep one base URL; else any free port, and
    the log says so (backend.json names the port either way)."""
    try:
        return bind_loopback(port)
    except PortInUseError:
        sock = bind_loopback(0)
        log.warning("port %d is in use; serving on port %d instead", port, sock.getsockname()[1])
        return sock


def listening(info: BackendInfo, preferred: int | None) -> str:
    """`hearth serve`'s one line of output: where it listens, and why not on the port asked for.

    On stdout, not stderr: a backend that `hearth chat` or the app starts shares their stderr,
    where a port it had to change is noise; they find it through backend.json.
    """
    line = f"hearth serve: listening on {info.url}"
    if preferred and preferred != info.port:
        line += f" (port {preferred} is in use; set `port` in settings.json to choose another)"
    return line


class GracefulStop:
    """Ctrl-C (SIGINT) and SIGTERM shut uvicorn down gracefully, whenever they come; `serve`
    then ends as each asks: Ctrl-C with KeyboardInterrupt (the CLI says "hearth: interrupted"),
    SIGTERM with status 0.

    The handlers only take note. Raising, as Python's own Ctrl-C handler does, could strike
    before uvicorn's loop has started its serve() coroutine, which would never be awaited, or
    after the engine's threads start and before the shutdown that stops them.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: list[int] = []
        self._server: uvicorn.Server | None = None
        self._previous: dict[int, SignalHandler] = {}

    def __enter__(self) -> GracefulStop:
        self._previous = {sig: signal.signal(sig, self._note) for sig in self.SIGNALS}
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def attach(self, server: uvicorn.Server) -> None:
        self._server = server
        server.should_exit = bool(self.received)

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        # While it serves, uvicorn has handlers of its own; after its graceful shutdown it
        # raises the signal again, and it arrives here.
        self.received.append(signum)
        if self._server is not None:
            self._server.should_exit = True

    def end_as_asked(self) -> None:
        if self.received and self.received[-1] == signal.SIGINT:
            raise KeyboardInterrupt
        if self.received:
            raise SystemExit(0)


def serve(port: int | None = None, layout: HomeLayout | None = None) -> None:
    """Serve on `port` exactly (0: a free one), or by default on the settings' port."""
    import uvicorn

    from backend.server.app import create_app
    from backend.server.services import Services

    layout = (layout or HomeLayout.current()).ensure()
    start_private(layout)  # also when started as `python -m`, without the CLI
    configure_logging("backend", layout)
    settings = Settings.load(layout)
    token = load_or_create_token(layout)
    sock = bind_preferred(settings.port) if port is None else bind_loopback(port)
    with GracefulStop() as stop:  # before the engine's threads start: uvicorn's shutdown ends them
        app = create_app(Services.open(layout, settings), token)
        info = BackendInfo(port=sock.getsockname()[1], pid=os.getpid(), version=__version__)
        config = uvicorn.Config(
            app,
            log_level="warning",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            access_log=False,
        )
        server = uvicorn.Server(config)
        stop.attach(server)
        write_backend_info(layout, info)
        log.info("serving on %s (pid %d)", info.url, info.pid)
        print(listening(info, settings.port if port is None else None), flush=True)
        try:
            server.run(sockets=[sock])
        finally:
            remove_backend_info(layout, info.pid)
            log.info("stopped")
    stop.end_as_asked()
