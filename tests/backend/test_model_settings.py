"""Each model's own context length, GPU layers and threads: stored across restarts, settable by
the API and `hearth models set`, and applied when llama.cpp loads the model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backend.cli import main
from backend.llm.runtime import LlamaRuntime
from backend.models.model_settings import InvalidModelSettingsError
from backend.models.registry import ModelRegistry, UnknownModelError
from backend.paths import HomeLayout
from backend.settings import Settings
from backend.wire import ModelSettings
from tests.backend.conftest import prepare_home, serve_real
from tests.backend.test_llm_runtime import ask, chat


@pytest.fixture
def registry(tiny_gguf: Path) -> ModelRegistry:
    layout = HomeLayout.current().ensure()
    shutil.copy(tiny_gguf, layout.models / "tiny.gguf")
    return ModelRegistry(layout, shipped_dir=layout.root / "none")


def reopened() -> ModelRegistry:
    layout = HomeLayout.current()
    return ModelRegistry(layout, shipped_dir=layout.root / "none")


def test_settings_are_kept_per_model_across_restarts(registry: ModelRegistry) -> None:
    assert registry.get("tiny").context_size(4096) == 512  # at most what it was trained for
    registry.update_settings("tiny", {"context_size": 256, "threads": 1})
    entry = reopened().get("tiny")
    assert entry.settings == ModelSettings(context_size=256, threads=1)
    assert entry.context_size(4096) == 256
    registry.update_settings("tiny", {"threads": None})  # back to the global setting
    assert reopened().get("tiny").settings == ModelSettings(context_size=256)
    with pytest.raises(InvalidModelSettingsError, match="context_size"):
        registry.update_settings("tiny", {"context_size": 10})
    with pytest.raises(UnknownModelError):
        registry.update_settings("nothing", {"threads": 2})


def test_the_runtime_loads_with_the_models_own_settings(registry: ModelRegistry) -> None:
    runtime = LlamaRuntime(registry, Settings(context_size=512, threads=2))
    try:
        _, finished = chat(runtime, ask("tiny", "Hi", max_tokens=2))
        assert finished.context_size == 512
        registry.update_settings("tiny", {"context_size": 256, "threads": 1, "gpu_layers": 5})
        _, finished = chat(runtime, ask("tiny", "Hi", max_tokens=2))  # a change reloads it
        assert finished.context_size == 256
        llama = runtime._resident.llama  # type: ignore[union-attr]
        assert (llama.n_threads, llama.model_params.n_gpu_layers) == (1, 5)
    finally:
        runtime.close()


def test_hearth_models_set(registry: ModelRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "set", "tiny", "--context", "300", "--gpu-layers", "8"]) == 0
    assert "context_size 300" in capsys.readouterr().out
    assert reopened().get("tiny").settings == ModelSettings(context_size=300, gpu_layers=8)
    assert main(["models", "set", "tiny", "--threads", "3"]) == 0  # the others stay
    assert reopened().get("tiny").settings == ModelSettings(
        context_size=300, gpu_layers=8, threads=3
    )
    assert main(["models", "set", "tiny", "--reset"]) == 0
    assert "the global settings" in capsys.readouterr().out
    assert reopened().get("tiny").settings == ModelSettings()
    assert main(["models", "set", "tiny", "--threads", "0"]) == 1
    assert "threads" in capsys.readouterr().err


def test_the_api_sets_them_and_the_reported_context_changes(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    served = serve_real(prepare_home(tmp_path / "home", tiny_gguf))

    def context_of_a_reply() -> int:
        body = {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
        with served.http() as http:
            reply = http.post("/v1/chat/completions", json=body)
        assert reply.status_code == 200, reply.text
        context: int = reply.json()["hearth"]["context_size"]
        return context

    try:
        assert context_of_a_reply() == 512
        client = served.client()
        described = client.models.update_settings("tiny", ModelSettings(context_size=256))
        assert described.settings.context_size == 256 and described.memory.context == 256
        assert client.models.describe("tiny").settings == ModelSettings(context_size=256)
        assert context_of_a_reply() == 256
        with served.http() as http:
            unknown = http.patch("/hearth/models/tiny/settings", json={"n_ctx": 300})
            missing = http.patch("/hearth/models/nothing/settings", json={"threads": 2})
        # refused, naming the field (a 400 once validation errors are answered as OpenAI does)
        assert unknown.status_code in (400, 422) and "n_ctx" in unknown.text
        assert missing.status_code == 404
    finally:
        served.stop()
