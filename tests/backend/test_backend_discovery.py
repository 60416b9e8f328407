"""backend.json naming a live process that is not this home's Hearth (its pid reused since a
crash, its port taken by another program) is stale: the CLI carries on without it instead of
printing a traceback or failing to reach it (#18, defect 8)."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from backend.discovery import BackendInfo, read_backend_info, write_backend_info
from backend.paths import HomeLayout
from tests.backend.conftest import RunningBackend, launch, prepare_home
from tests.backend.inprocess_cli import run_hearth


class _WebPage(BaseHTTPRequestHandler):
    """Another program's web server: every path is a page of HTML."""

    def _page(self) -> None:
        body = b"<html><body>someone else's server</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _page

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_web_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nobody listens once the socket is closed


def _record_live_stranger(home: Path, port: int) -> HomeLayout:
    """backend.json names this test's own process: alive, and not a Hearth backend."""
    layout = HomeLayout(home).ensure()
    write_backend_info(layout, BackendInfo(port=port, pid=os.getpid(), version="0"))
    return layout


@pytest.mark.parametrize("port", ["web page", "closed"])
def test_a_live_process_that_is_not_hearth_is_stale(
    hearth_home: Path, other_web_server: int, port: str
) -> None:
    layout = _record_live_stranger(
        hearth_home, other_web_server if port == "web page" else _closed_port()
    )
    listed = run_hearth("docs", "list", "--json")  # in this process, as with no backend
    assert "Traceback" not in listed.err
    assert listed.code == 0, listed.err
    assert json.loads(listed.out) == []
    assert read_backend_info(layout) is None


def test_another_homes_backend_on_the_port_is_stale(
    hearth_home: Path, tiny_gguf: Path, tmp_path: Path
) -> None:
    """A Hearth serving another HEARTH_HOME refuses this home's token: not ours either."""
    other = launch(prepare_home(tmp_path / "other-home", tiny_gguf))
    try:
        layout = _record_live_stranger(hearth_home, other.info.port)
        assert read_backend_info(layout) is None
    finally:
        other.stop()


def test_the_serving_backend_is_found(backend: RunningBackend) -> None:
    found = read_backend_info(backend.layout)
    assert found is not None and found.port == backend.info.port
