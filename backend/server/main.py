"""`hearth serve`: bind loopback, publish port and pid in backend.json, serve until SIGTERM."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import warnings
from types import FrameType

from backend import __version__
from backend.discovery import (
    BackendInfo,
    load_or_create_token,
    remove_backend_info,
    write_backend_info,
)
from backend.logs import configure_logging
from backend.paths import HomeLayout
from backend.settings import Settings

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# How long SIGTERM waits for in-flight requests before the lifespan cancels them.
GRACEFUL_SHUTDOWN_S = 5


class PortInUseError(Exception):
    """Another program already listens on the port asked for."""


def bind_loopback(port: int) -> socket.socket:
    """Bind before uvicorn starts, so a free port (0) is known without a race."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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


def _exit_after_shutdown(_signum: int, _frame: FrameType | None) -> None:
    # uvicorn shuts down gracefully, then re-raises SIGTERM to the previous handler: this one.
    raise SystemExit(0)


def serve(port: int = 0, layout: HomeLayout | None = None) -> None:
    import uvicorn

    from backend.server.app import create_app
    from backend.server.services import Services

    layout = (layout or HomeLayout.current()).ensure()
    configure_logging("backend", layout)
    settings = Settings.load(layout)
    token = load_or_create_token(layout)
    sock = bind_loopback(port)
    app = create_app(Services.open(layout, settings), token)
    info = BackendInfo(port=sock.getsockname()[1], pid=os.getpid(), version=__version__)

    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        access_log=False,
    )
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, _exit_after_shutdown)
    # Ctrl-C in the instant before uvicorn's loop starts leaves its serve() coroutine unawaited,
    # and Python would warn about it on the way out, after "hearth: interrupted".
    warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
    write_backend_info(layout, info)
    log.info("serving on %s (pid %d)", info.url, info.pid)
    print(f"hearth serve: listening on {info.url}", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        remove_backend_info(layout, info.pid)
        log.info("stopped")
