"""HTTP client for the backend, used by the CLI and the GUI; it finds or starts `hearth serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from types import FrameType
from typing import Any

import httpx

from backend.discovery import BackendInfo, load_or_create_token, read_backend_info
from backend.paths import HomeLayout
from backend.settings import Settings

STARTUP_TIMEOUT_S = 60.0


class BackendError(Exception):
    """The backend answered with an error, or could not be reached or started."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _raise_for_error(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text or response.reason_phrase
    raise BackendError(message, response.status_code)


class BackendClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self._http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(30.0, read=None),
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise BackendError(f"cannot reach the backend at {self.url}: {exc}") from exc
        _raise_for_error(response)
        return response.json() if response.content else None

    def stream_events(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """POST and yield each server-sent JSON event."""
        with self._http.stream("POST", path, json=body) as response:
            if not response.is_success:
                response.read()
                _raise_for_error(response)
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    yield json.loads(line.removeprefix("data: "))

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/health")
        return result


def _wait_until_serving(layout: HomeLayout, child: subprocess.Popen[bytes]) -> BackendInfo:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise BackendError(
                f"the backend exited during start-up (code {child.returncode}); "
                f"see {layout.logs / 'backend.log'}"
            )
        info = read_backend_info(layout)
        if info is not None and info.pid == child.pid:
            return info
        time.sleep(0.05)
    child.terminate()
    raise BackendError(f"the backend did not start within {STARTUP_TIMEOUT_S:.0f} s")


def hearth_command(*args: str) -> list[str]:
    """How this process runs `hearth ARGS`: in the app bundle, its own executable is `hearth`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "backend", *args]


def start_backend(layout: HomeLayout, port: int = 0) -> tuple[subprocess.Popen[bytes], BackendInfo]:
    """Start `hearth serve` as a child process and wait until it has published its port."""
    env = os.environ | {"HEARTH_HOME": str(layout.root)}
    child = subprocess.Popen(
        hearth_command("serve", "--port", str(port)),
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        return child, _wait_until_serving(layout, child)
    except BaseException:  # Ctrl-C or a signal during start-up must not orphan the child
        stop_backend(child)
        raise


def stop_backend(child: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    child.terminate()
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _unwinding_on_termination() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind the stack as Ctrl-C does, so `finally` stops the backend we
    started instead of leaving it orphaned. Only the main thread may set handlers; Windows has
    no SIGHUP."""
    names = ("SIGTERM", "SIGHUP") if threading.current_thread() is threading.main_thread() else ()
    signums = [getattr(signal, name) for name in names if hasattr(signal, name)]
    previous = {signum: signal.signal(signum, _exit_on_signal) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def backend_session(layout: HomeLayout | None = None) -> Iterator[BackendClient]:
    """A client for the running backend, or for one started now and stopped afterwards."""
    layout = (layout or HomeLayout.current()).ensure()
    info = read_backend_info(layout)
    with ExitStack() as stack:
        if info is None:
            Settings.load(layout)  # a broken settings.json is named, not a failed start
            stack.enter_context(_unwinding_on_termination())
            child, info = start_backend(layout)
            stack.callback(stop_backend, child)
        yield stack.enter_context(closing(BackendClient(info.url, load_or_create_token(layout))))
