"""The `hearth` command as a user runs it: models and one-shot chat.

What a command prints and its exit status are checked in this process (`run_hearth`); the
installed `hearth` runs as a subprocess where the process is the subject: signals, a backend
the command starts, `hearth serve`, and one plain-error run of `hearth models`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest

from backend.client import HearthClient
from backend.discovery import load_or_create_token, read_backend_info
from backend.paths import HomeLayout, repo_models_dir
from tests.backend.conftest import launch, prepare_home
from tests.backend.inprocess_cli import HEARTH, Result, run_hearth, run_installed_hearth


def test_models_list_info_and_import(tiny_gguf: Path, tmp_path: Path) -> None:
    imported = run_hearth("models", "import", str(tiny_gguf), "--name", "mine", "--json")
    assert imported.code == 0, imported.err
    assert json.loads(imported.out)["path"] == str(tiny_gguf.resolve())
    listed = json.loads(run_hearth("models", "list", "--json").out)
    assert [(m["name"], m["source"], m["quantization"]) for m in listed] == [
        ("smollm2-135m-instruct", "shipped", "Q4_1"),
        ("hearth-tiny-Q4_K_M", "shipped", "Q4_K_M"),
        ("hearth-tiny-Q8_0", "shipped", "Q8_0"),
        ("hearth-tiny-moe-Q4_K_M", "shipped", "Q4_K_M"),
        ("hearth-tiny-moe-Q8_0", "shipped", "Q8_0"),
        ("mine", "imported", "F16"),
        ("hearth-smol", "shipped", "Q4_1"),  # base + adapter: the base's quantization
    ]
    info = json.loads(run_hearth("models", "info", "mine", "--json").out)
    assert info["architecture"] == "llama" and info["memory"]["fits"] is True
    assert "mine" in run_hearth("models", "list").out


def test_models_errors_are_plain_messages(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\x00" * 10)
    result = run_installed_hearth("models", "import", str(junk))
    assert result.code == 1
    assert result.err.startswith("hearth: ") and "Traceback" not in result.err
    missing = run_installed_hearth("models", "info", "nothing")
    assert missing.code == 1 and "unknown model 'nothing'" in missing.err


def test_chat_starts_a_backend_for_one_question(hearth_home: Path, tiny_gguf: Path) -> None:
    prepare_home(hearth_home, tiny_gguf)
    result = run_installed_hearth("chat", "Hello there", "--json")
    assert result.code == 0, result.err
    answer = json.loads(result.out)
    assert answer["model"] == "tiny" and answer["status"] == "complete"
    assert not HomeLayout(hearth_home).backend_info.exists(), "the backend it started is stopped"
    follow_up = run_installed_hearth(
        "chat", "And then?", "--conversation", answer["conversation_id"], "--json"
    )
    assert json.loads(follow_up.out)["conversation_id"] == answer["conversation_id"]


def test_chat_uses_the_running_backend(hearth_home: Path, tiny_gguf: Path) -> None:
    backend = launch(prepare_home(hearth_home, tiny_gguf))
    try:
        result = run_hearth("chat", "Hi", "--json")
        assert result.code == 0, result.err
        cid = json.loads(result.out)["conversation_id"]
        with backend.http() as http:
            assert len(http.get(f"/hearth/conversations/{cid}").json()["messages"]) == 2
    finally:
        backend.stop()


def test_chat_with_an_unknown_model_fails_clearly(hearth_home: Path, tiny_gguf: Path) -> None:
    prepare_home(hearth_home, tiny_gguf)
    result = run_installed_hearth("chat", "Hi", "--model", "ghost")
    assert result.code == 1
    assert "unknown model 'ghost'" in result.err and "Traceback" not in result.err


def assert_one_line_error(result: Result, message: str) -> None:
    assert result.code == 1, result.err
    assert result.err.splitlines() == [f"hearth: {message}"]


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
    for command in (["models", "list"], ["chat", "hi"], ["images", "search", "x"]):
        assert_one_line_error(run_hearth(*command), f"{settings} {problem}")
    # serve logs to HEARTH_HOME from its first line, so it runs as the process it would be
    assert_one_line_error(run_installed_hearth("serve"), f"{settings} {problem}")


def test_serve_refuses_impossible_and_busy_ports() -> None:
    for port in ("70000", "-5"):
        result = run_installed_hearth("serve", "--port", port)
        assert result.code == 2 and "Traceback" not in result.err
        assert "is not a port (0-65535" in result.err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_installed_hearth("serve", "--port", str(port))
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
    assert_one_line_error(run_hearth("models", "import", str(tiny_gguf), "--name", name), message)
    assert run_hearth("models", "info", "hearth-smol", "--json").code == 0


def test_a_lora_adapter_is_not_imported_or_shown_as_a_model() -> None:
    adapter = repo_models_dir() / "hearth-smol" / "hearth-smol-lora.gguf"
    message = (
        f"{adapter} is a LoRA adapter, not a model; Hearth uses one through an adapter.json "
        "beside it that names its base model"
    )
    assert_one_line_error(run_hearth("models", "import", str(adapter)), message)
    assert_one_line_error(run_hearth("models", "info", "hearth-smol-lora"), message)
    assert "hearth-smol-lora" not in run_hearth("models", "list").out


def test_models_info_names_a_missing_or_damaged_file(
    hearth_home: Path, tiny_gguf: Path, tmp_path: Path
) -> None:
    borrowed = tmp_path / "borrowed.gguf"
    borrowed.write_bytes(tiny_gguf.read_bytes())
    assert run_hearth("models", "import", str(borrowed)).code == 0
    borrowed.unlink()
    assert_one_line_error(
        run_hearth("models", "info", "borrowed"), f"{borrowed}: No such file or directory"
    )
    damaged = HomeLayout(hearth_home).ensure().models / "damaged.gguf"
    damaged.write_bytes(tiny_gguf.read_bytes()[:5000])
    result = run_hearth("models", "info", "damaged")
    assert result.code == 1 and len(result.err.splitlines()) == 1, result.err
    cut = f"hearth: {damaged} is damaged or truncated: the header ends early: "  # then where
    assert result.err.startswith(cut) and " at byte " in result.err, result.err


def test_chat_with_an_unknown_collection_creates_nothing(
    hearth_home: Path, tiny_gguf: Path
) -> None:
    backend = launch(prepare_home(hearth_home, tiny_gguf))
    try:
        result = run_hearth("chat", "Hi", "--collection", "nope")
        with backend.http() as http:
            conversations = http.get("/hearth/conversations").json()
    finally:
        backend.stop()
    assert result.code == 1 and "nope" in result.err
    assert "Traceback" not in result.err
    assert conversations == []
