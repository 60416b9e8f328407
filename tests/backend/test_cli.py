"""The `hearth` command as a user runs it: models and one-shot chat."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from backend.client import HearthClient
from backend.discovery import load_or_create_token, read_backend_info
from backend.paths import HomeLayout, repo_models_dir
from tests.backend.conftest import launch, prepare_home

HEARTH = str(Path(sys.executable).with_name("hearth"))


def hearth(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HEARTH, *args], capture_output=True, text=True, timeout=120)


def test_models_list_info_and_import(tiny_gguf: Path, tmp_path: Path) -> None:
    imported = hearth("models", "import", str(tiny_gguf), "--name", "mine", "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["path"] == str(tiny_gguf.resolve())
    listed = json.loads(hearth("models", "list", "--json").stdout)
    assert [(m["name"], m["source"], m["quantization"]) for m in listed] == [
        ("smollm2-135m-instruct", "shipped", "Q4_1"),
        ("hearth-tiny-Q4_K_M", "shipped", "Q4_K_M"),
        ("hearth-tiny-Q8_0", "shipped", "Q8_0"),
        ("hearth-tiny-moe-Q4_K_M", "shipped", "Q4_K_M"),
        ("hearth-tiny-moe-Q8_0", "shipped", "Q8_0"),
        ("mine", "imported", "F16"),
        ("hearth-smol", "shipped", "Q4_1"),  # base + adapter: the base's quantization
    ]
    info = json.loads(hearth("models", "info", "mine", "--json").stdout)
    assert info["architecture"] == "llama" and info["memory"]["fits"] is True
    assert "mine" in hearth("models", "list").stdout


def test_models_errors_are_plain_messages(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\x00" * 10)
    result = hearth("models", "import", str(junk))
    assert result.returncode == 1
    assert result.stderr.startswith("hearth: ") and "Traceback" not in result.stderr
    missing = hearth("models", "info", "nothing")
    assert missing.returncode == 1 and "unknown model 'nothing'" in missing.stderr


def test_chat_starts_a_backend_for_one_question(hearth_home: Path, tiny_gguf: Path) -> None:
    prepare_home(hearth_home, tiny_gguf)
    result = hearth("chat", "Hello there", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["model"] == "tiny" and answer["status"] == "complete"
    assert not HomeLayout(hearth_home).backend_info.exists(), "the backend it started is stopped"
    follow_up = hearth("chat", "And then?", "--conversation", answer["conversation_id"], "--json")
    assert json.loads(follow_up.stdout)["conversation_id"] == answer["conversation_id"]


def test_chat_uses_the_running_backend(hearth_home: Path, tiny_gguf: Path) -> None:
    backend = launch(prepare_home(hearth_home, tiny_gguf))
    try:
        result = hearth("chat", "Hi", "--json")
        assert result.returncode == 0, result.stderr
        cid = json.loads(result.stdout)["conversation_id"]
        with backend.http() as http:
            assert len(http.get(f"/hearth/conversations/{cid}").json()["messages"]) == 2
    finally:
        backend.stop()


def test_chat_with_an_unknown_model_fails_clearly(hearth_home: Path, tiny_gguf: Path) -> None:
    prepare_home(hearth_home, tiny_gguf)
    result = hearth("chat", "Hi", "--model", "ghost")
    assert result.returncode == 1
    assert "unknown model 'ghost'" in result.stderr and "Traceback" not in result.stderr


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [f"hearth: {message}"]


def wait_for_backend(layout: HomeLayout, process: subprocess.Popen[str]) -> int:
    """The pid of the backend that `process` (or its child) published, once it serves."""
    deadline = time.monotonic() + 60
    while (info := read_backend_info(layout)) is None:
        assert process.poll() is None and time.monotonic() < deadline, "no backend started"
        time.sleep(0.02)
    return info.pid


@pytest.mark.parametrize("when", ["starting", "serving"])
def test_ctrl_c_stops_serve_with_one_line(hearth_home: Path, when: str) -> None:
    layout = HomeLayout(hearth_home)
    serve = subprocess.Popen([HEARTH, "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_backend(layout, serve)  # type: ignore[arg-type]
    if when == "serving":
        info = read_backend_info(layout)
        assert info is not None
        with closing(HearthClient(info.url, load_or_create_token(layout))) as client:
            client.health()
    # "starting": backend.json is written just before uvicorn's loop starts, so the press lands
    # while it starts (it once left a coroutine unawaited, or the engine's threads running).
    serve.send_signal(signal.SIGINT)
    _, stderr = serve.communicate(timeout=60)
    assert serve.returncode == 130
    assert stderr.decode().splitlines() == ["hearth: interrupted"]
    assert not HomeLayout(hearth_home).backend_info.exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_chat_stops_the_backend_it_started(
    hearth_home: Path, tiny_gguf: Path, signum: int
) -> None:
    layout = prepare_home(hearth_home, tiny_gguf)
    chat = subprocess.Popen(
        [HEARTH, "chat", "Tell me a long story"], stdout=subprocess.DEVNULL, text=True
    )
    backend_pid = wait_for_backend(layout, chat)
    chat.send_signal(signum)
    chat.wait(timeout=60)
    deadline = time.monotonic() + 5
    while process_exists(backend_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_exists(backend_pid), "the backend outlived the chat that started it"
    assert chat.returncode == 128 + signum


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            '{"image_model": ',
            "is not valid Hearth settings: Expecting value: line 1 column 17 (char 16)",
        ),
        (
            '{"context_size":"big"}',
            "is not valid Hearth settings: context_size: Input should be a valid integer, "
            "unable to parse string as an integer",
        ),
    ],
)
def test_broken_settings_are_named_in_one_line(
    hearth_home: Path, content: str, problem: str
) -> None:
    settings = HomeLayout(hearth_home).ensure().settings
    settings.write_text(content)
    for command in (["models", "list"], ["chat", "hi"], ["serve"], ["images", "search", "x"]):
        assert_one_line_error(hearth(*command), f"{settings} {problem}")


def test_serve_refuses_impossible_and_busy_ports() -> None:
    for port in ("70000", "-5"):
        result = hearth("serve", "--port", port)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "is not a port (0-65535" in result.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = hearth("serve", "--port", str(port))
    assert_one_line_error(result, f"port {port} is in use; pick another or omit --port")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "the model name is empty; pass a name"),
        (
            "a/b",
            "'a/b' cannot be a model name: it must not be '.' or '..', nor contain '/', "
            "'\\' or control characters",
        ),
        ("hearth-smol", "a model named 'hearth-smol' exists; pass another name"),
    ],
)
def test_models_import_refuses_bad_and_taken_names(
    tiny_gguf: Path, name: str, message: str
) -> None:
    assert_one_line_error(hearth("models", "import", str(tiny_gguf), "--name", name), message)
    assert hearth("models", "info", "hearth-smol", "--json").returncode == 0


def test_a_lora_adapter_is_not_imported_or_shown_as_a_model() -> None:
    adapter = repo_models_dir() / "hearth-smol" / "hearth-smol-lora.gguf"
    message = (
        f"{adapter} is a LoRA adapter, not a model; Hearth uses one through an adapter.json "
        "beside it that names its base model"
    )
    assert_one_line_error(hearth("models", "import", str(adapter)), message)
    assert_one_line_error(hearth("models", "info", "hearth-smol-lora"), message)
    assert "hearth-smol-lora" not in hearth("models", "list").stdout


def test_models_info_names_a_missing_or_damaged_file(
    hearth_home: Path, tiny_gguf: Path, tmp_path: Path
) -> None:
    borrowed = tmp_path / "borrowed.gguf"
    borrowed.write_bytes(tiny_gguf.read_bytes())
    assert hearth("models", "import", str(borrowed)).returncode == 0
    borrowed.unlink()
    assert_one_line_error(
        hearth("models", "info", "borrowed"), f"{borrowed}: No such file or directory"
    )
    damaged = HomeLayout(hearth_home).ensure().models / "damaged.gguf"
    damaged.write_bytes(tiny_gguf.read_bytes()[:5000])
    result = hearth("models", "info", "damaged")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    cut = f"hearth: {damaged} is damaged or truncated: the header ends early: "  # then where
    assert result.stderr.startswith(cut) and " at byte " in result.stderr, result.stderr


def test_chat_with_an_unknown_collection_creates_nothing(
    hearth_home: Path, tiny_gguf: Path
) -> None:
    backend = launch(prepare_home(hearth_home, tiny_gguf))
    try:
        result = hearth("chat", "Hi", "--collection", "nope")
        with backend.http() as http:
            conversations = http.get("/hearth/conversations").json()
    finally:
        backend.stop()
    assert result.returncode == 1 and "nope" in result.stderr
    assert "Traceback" not in result.stderr
    assert conversations == []
