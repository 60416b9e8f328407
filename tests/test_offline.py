"""The offline promise: the whole flow works with every connection off this machine refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from backend.discovery import load_or_create_token, read_backend_info
from backend.paths import HomeLayout
from training.testing import build_tiny_gguf

GUARD = Path(__file__).parent / "offline_guard"
HEARTH = str(Path(sys.executable).with_name("hearth"))


def run_offline(args: list[str], home: Path, log: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "HEARTH_HOME": str(home),
        "HEARTH_OFFLINE_LOG": str(log),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(GUARD), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)


def test_the_guard_refuses_an_outside_connection(tmp_path: Path) -> None:
    """The guard itself must work, or the test below proves nothing."""
    log = tmp_path / "attempts.log"
    lookup = "import socket; socket.create_connection(('example.org', 80), timeout=1)"
    connect = "import socket; socket.socket().connect(('192.0.2.1', 80))"
    for code in (lookup, connect):
        result = run_offline([sys.executable, "-c", code], tmp_path / "home", log)
        assert result.returncode != 0 and "offline test:" in result.stderr
    assert log.read_text().count("tried to reach") == 2
    assert "example.org" in log.read_text() and "192.0.2.1" in log.read_text()


def test_self_test_passes_with_the_network_refused(tmp_path: Path) -> None:
    log = tmp_path / "attempts.log"
    elsewhere = tmp_path / "some-other-folder"
    elsewhere.mkdir()
    result = subprocess.run(
        [HEARTH, "--self-test"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=os.environ
        | {
            "HEARTH_HOME": str(tmp_path / "home"),
            "HEARTH_OFFLINE_LOG": str(log),
            "PYTHONPATH": str(GUARD),
        },
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout
    for check in ("chat with the default model", "index and search a document", "label an image"):
        assert f"ok    {check}" in result.stdout
    assert not log.exists(), f"something tried to leave the machine:\n{log.read_text()}"


def test_app_start_touches_no_network(tmp_path: Path) -> None:
    """The window opens, discovers another app's model, starts its engine and answers health
    checks, all with the network refused; then it closes on SIGTERM."""
    home, log = tmp_path / "home", tmp_path / "attempts.log"
    lmstudio = tmp_path / "user" / ".lmstudio" / "models" / "someone" / "tiny-GGUF"
    lmstudio.mkdir(parents=True)
    build_tiny_gguf(lmstudio / "tiny-Q8_0.gguf")
    env = os.environ | {
        "HOME": str(tmp_path / "user"),
        "HEARTH_HOME": str(home),
        "HEARTH_OFFLINE_LOG": str(log),
        "PYTHONPATH": str(GUARD),
        "QT_QPA_PLATFORM": "offscreen",
    }
    app = subprocess.Popen([sys.executable, "-m", "desktop"], env=env, stderr=subprocess.PIPE)
    try:
        deadline, healthy = time.monotonic() + 120, False
        while not healthy and time.monotonic() < deadline and app.poll() is None:
            time.sleep(0.5)
            info = read_backend_info(HomeLayout(home))
            if info is not None:
                token = load_or_create_token(HomeLayout(home))
                headers = {"Authorization": f"Bearer {token}"}
                models = httpx.get(f"{info.url}/v1/models", headers=headers, timeout=5)
                healthy = models.status_code == 200 and "tiny-Q8_0" in models.text
        assert healthy, "the app's engine never answered with the discovered model"
        time.sleep(2)  # the welcome page and the rest of start-up settle
    finally:
        app.send_signal(signal.SIGTERM)
        _, errors = app.communicate(timeout=60)
    assert app.returncode == 0, errors.decode()
    assert not log.exists(), f"something tried to leave the machine:\n{log.read_text()}"
