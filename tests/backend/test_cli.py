"""The `hearth` command as a user runs it: models and one-shot chat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from backend.paths import HomeLayout
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
