"""The API as browsers and tools meet it: CORS for pages on loopback, no answer to a foreign
Host (DNS rebinding), a stable port, and a clear 404 for the Responses API."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from pydantic import ValidationError

from backend.client import hearth_command, stop_backend
from backend.discovery import BackendInfo, read_backend_info
from backend.paths import HomeLayout
from backend.server.main import PortInUseError, bind_loopback, bind_preferred
from backend.settings import Settings
from tests.backend.conftest import InProcessRealBackend, prepare_home, serve_real

LISTED_ORIGIN = "https://notes.example:8443"
PAGE = "http://localhost:5173"  # a dev server's page, e.g. Vite's
HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def backend(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path
) -> Iterator[InProcessRealBackend]:
    home = tmp_path_factory.mktemp("home")
    running = serve_real(prepare_home(home, tiny_gguf, allowed_origins=[LISTED_ORIGIN]))
    yield running
    running.stop()


def preflight(backend: InProcessRealBackend, origin: str) -> httpx.Response:
    """What a browser sends before a page's POST with a token and a JSON body: no token."""
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
    }
    return httpx.options(f"{backend.url}/v1/chat/completions", headers=headers)


@pytest.mark.parametrize(
    "origin", [PAGE, "http://127.0.0.1:3000", "http://[::1]:8080", "http://localhost"]
)
def test_a_page_on_loopback_passes_the_preflight_without_the_token(
    backend: InProcessRealBackend, origin: str
) -> None:
    response = preflight(backend, origin)
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-stainless-os"} <= {
        name.strip() for name in allowed.split(",")
    }
    assert "Origin" in response.headers["vary"]


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "http://localhost.evil.example", "null", "https://notes.example"],
)
def test_other_origins_get_no_cors_headers(backend: InProcessRealBackend, origin: str) -> None:
    response = preflight(backend, origin)
    assert response.status_code == 403
    assert not any(name.startswith("access-control-") for name in response.headers)
    error = response.json()["error"]
    assert error["code"] == "origin_not_allowed" and "allowed_origins" in error["message"]
    assert error["type"] == "permission_error" and error["param"] is None
    with backend.http() as http:  # even with the token, the page may not read the answer
        answered = http.get("/v1/models", headers={"Origin": origin})
    assert answered.status_code == 200
    assert "access-control-allow-origin" not in answered.headers


def test_an_origin_listed_in_the_settings_is_allowed(backend: InProcessRealBackend) -> None:
    response = preflight(backend, LISTED_ORIGIN)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == LISTED_ORIGIN


def test_a_pages_requests_still_need_the_token_and_carry_cors_headers(
    backend: InProcessRealBackend,
) -> None:
    without_token = httpx.get(f"{backend.url}/v1/models", headers={"Origin": PAGE})
    assert without_token.status_code == 401  # and the page can read why
    assert without_token.headers["access-control-allow-origin"] == PAGE
    with backend.http() as http:
        models = http.get("/v1/models", headers={"Origin": PAGE})
        assert models.status_code == 200
        assert models.headers["access-control-allow-origin"] == PAGE
        body = {"model": "tiny", "messages": HELLO, "max_tokens": 4, "stream": True}
        with http.stream(
            "POST", "/v1/chat/completions", json=body, headers={"Origin": PAGE}
        ) as sse:
            assert sse.headers["access-control-allow-origin"] == PAGE
            assert sse.headers["content-type"].startswith("text/event-stream")
            lines = [line for line in sse.iter_lines() if line.startswith("data: ")]
    assert len(lines) >= 3 and lines[-1] == "data: [DONE]"  # streamed through the middleware


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "localhost.:{port}"]
)
def test_a_foreign_host_is_refused_even_with_the_token(
    backend: InProcessRealBackend, host: str
) -> None:
    with backend.http() as http:
        response = http.get("/v1/models", headers={"Host": host.format(port=backend.info.port)})
    assert response.status_code == 421
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "misdirected_request"
    assert "DNS rebinding" in error["message"] and error["param"] is None


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "LOCALHOST"]
)
def test_loopback_host_names_are_served(backend: InProcessRealBackend, host: str) -> None:
    with backend.http() as http:
        response = http.get("/v1/models", headers={"Host": host.format(port=backend.info.port)})
    assert response.status_code == 200, response.text


def test_the_responses_api_is_a_404_that_points_at_chat_completions(
    backend: InProcessRealBackend,
) -> None:
    with pytest.raises(openai.NotFoundError, match=r"/v1/chat/completions") as caught:
        backend.openai().responses.create(model="tiny", input="Hello")
    assert caught.value.code == "unsupported_endpoint"
    with backend.http() as http:
        for method, path in (("GET", "/v1/responses/resp_1"), ("DELETE", "/v1/responses/resp_1")):
            response = http.request(method, path)
            assert response.status_code == 404
            error = response.json()["error"]
            assert error["type"] == "not_found_error" and error["code"] == "unsupported_endpoint"
            assert f"{method} {path}" in error["message"] and "not supported" in error["message"]
        other = http.post("/v1/audio/speech", json={})
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"


def test_allowed_origins_must_be_exact_origins() -> None:
    for wrong in ("https://notes.example/", "notes.example", "https://notes.example/app", "*"):
        with pytest.raises(ValidationError, match="is not an origin"):
            Settings(allowed_origins=[wrong])
    assert Settings().port == 8765 and Settings().allowed_origins == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_preferred_port_is_used_when_free_and_replaced_when_taken(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with bind_preferred(free_port()) as first:
        port = first.getsockname()[1]
        assert "in use" not in caplog.text
        with bind_preferred(port) as second:
            instead = second.getsockname()[1]
        assert instead not in (0, port)
        assert f"port {port} is in use; serving on port {instead} instead" in caplog.text
        with pytest.raises(PortInUseError):  # `hearth serve --port N` takes N or nothing
            bind_loopback(port)


def serve_child(home: Path, output: Path) -> tuple[subprocess.Popen[bytes], BackendInfo]:
    """`hearth serve` with no --port, as a person, the desktop and `hearth docs` start it."""
    with output.open("wb") as out:
        child = subprocess.Popen(
            hearth_command("serve"), env=os.environ | {"HEARTH_HOME": str(home)}, stdout=out
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        info = read_backend_info(HomeLayout(home))
        if info is not None and info.pid == child.pid:
            return child, info
        time.sleep(0.05)
    stop_backend(child)
    raise AssertionError(f"hearth serve did not start: {output.read_text()}")


def test_hearth_serve_binds_the_settings_port_and_a_second_one_falls_back(
    tmp_path: Path, tiny_gguf: Path
) -> None:
    port = free_port()
    homes = [prepare_home(tmp_path / name, tiny_gguf, port=port).root for name in ("a", "b")]
    first, first_info = serve_child(homes[0], tmp_path / "a.out")
    try:
        assert first_info.port == port
        second, second_info = serve_child(homes[1], tmp_path / "b.out")
        try:
            assert second_info.port != port
            said = (tmp_path / "b.out").read_text()
            assert f"listening on {second_info.url} (port {port} is in use" in said
            assert f"port {port} is in use" in (homes[1] / "logs" / "backend.log").read_text()
            with httpx.Client(timeout=10) as http:  # both serve, each at its backend.json's URL
                for info in (first_info, second_info):
                    assert http.get(f"{info.url}/health").status_code == 401
        finally:
            stop_backend(second)
    finally:
        stop_backend(first)
    assert (tmp_path / "a.out").read_text() == f"hearth serve: listening on {first_info.url}\n"
