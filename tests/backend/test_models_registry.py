"""GGUF metadata without loading weights, validation of damaged files, and the memory check."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.cli import main
from backend.models.describe import describe_model
from backend.models.gguf_info import InvalidGgufError, read_gguf_info
from backend.models.memory import ModelTooLargeError, ensure_fits, estimate_memory
from backend.models.registry import (
    InvalidModelNameError,
    ModelNameTakenError,
    ModelRegistry,
    NotAModelError,
    UnknownModelError,
)
from backend.paths import HomeLayout, repo_models_dir
from backend.server.app import create_app
from backend.server.services import Services
from backend.settings import Settings
from training.testing import build_oversized_gguf, build_tiny_gguf


def test_metadata_describes_the_tiny_model(tiny_gguf: Path) -> None:
    info = read_gguf_info(tiny_gguf)
    assert info.architecture == "llama"
    assert (info.block_count, info.context_length, info.head_count_kv) == (2, 512, 2)
    assert info.quantization == "F16"
    assert info.file_size == tiny_gguf.stat().st_size
    assert info.chat_template is not None and "<|im_start|>" in info.chat_template
    assert 100_000 < info.parameter_count < 200_000


def test_fast_header_reader_agrees_with_the_gguf_package(tiny_gguf: Path, tmp_path: Path) -> None:
    from gguf import GGUFReader

    for path in (tiny_gguf, build_tiny_gguf(tmp_path / "moe.gguf", moe=True)):
        reference = GGUFReader(path)
        info = read_gguf_info(path)
        assert info.parameter_count == sum(t.n_elements for t in reference.tensors)
        assert info.chat_template == reference.get_field("tokenizer.chat_template").contents()
        assert info.head_count_kv == reference.get_field("llama.attention.head_count_kv").contents()


def test_moe_metadata_counts_experts(tmp_path: Path) -> None:
    info = read_gguf_info(build_tiny_gguf(tmp_path / "moe.gguf", moe=True))
    assert info.expert_count == 4


def test_truncated_gguf_is_refused_with_sizes(tiny_gguf: Path, tmp_path: Path) -> None:
    data = tiny_gguf.read_bytes()
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(data[: len(data) - 4096])
    with pytest.raises(InvalidGgufError, match="truncated"):
        read_gguf_info(broken)


def test_non_gguf_file_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "notes.gguf"
    fake.write_text("just some text, not a model")
    with pytest.raises(InvalidGgufError, match="not a GGUF"):
        read_gguf_info(fake)


def test_registry_finds_user_models_and_rejects_unknown_names(tiny_gguf: Path) -> None:
    layout = HomeLayout.current().ensure()
    (layout.models / "mine.gguf").write_bytes(tiny_gguf.read_bytes())
    registry = ModelRegistry(layout, shipped_dir=layout.root / "no-shipped")
    assert [(e.name, e.source) for e in registry.list()] == [("mine", "user")]
    with pytest.raises(UnknownModelError, match="unknown model 'other'.*mine"):
        registry.get("other")


def test_import_is_by_reference_and_validated(tiny_gguf: Path, tmp_path: Path) -> None:
    layout = HomeLayout.current().ensure()
    registry = ModelRegistry(layout, shipped_dir=tmp_path / "none")
    entry = registry.import_gguf(tiny_gguf, name="borrowed")
    assert entry.path == tiny_gguf.resolve()
    assert not list(layout.models.glob("*.gguf")), "the file must not be copied"
    assert ModelRegistry(layout, shipped_dir=tmp_path / "none").get("borrowed").source == "imported"
    with pytest.raises(ModelNameTakenError):
        registry.import_gguf(tiny_gguf, name="borrowed")
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(tiny_gguf.read_bytes()[:5000])
    with pytest.raises(InvalidGgufError):
        registry.import_gguf(damaged)


def test_oversized_model_is_refused_with_both_numbers(tmp_path: Path) -> None:
    info = read_gguf_info(build_oversized_gguf(tmp_path / "huge.gguf", gib=64))
    estimate = estimate_memory(info, 4096, available=16 * 1024**3)
    assert not estimate.fits
    with pytest.raises(ModelTooLargeError, match=r"needs about 64\.\d GiB.*only 16\.0 GiB"):
        ensure_fits("huge", estimate, 4096)


def test_kv_cache_grows_with_context(tiny_gguf: Path) -> None:
    info = read_gguf_info(tiny_gguf)
    # 2 layers x 2 KV heads x 16 dims x (K and V) x 2 bytes = 256 bytes per token
    assert info.kv_cache_bytes(512) == 512 * 256
    layout = HomeLayout.current().ensure()
    (layout.models / "tiny.gguf").write_bytes(tiny_gguf.read_bytes())
    entry = ModelRegistry(layout, shipped_dir=layout.root / "none").get("tiny")
    memory = describe_model(entry, Settings(context_size=256), available=1 << 40).memory
    assert memory.context == 256 and memory.kv_cache_bytes == 256 * 256 and memory.fits


@pytest.mark.parametrize("name", ["", "  ", "a/b", "../../evil", "back\\slash", "new\nline", ".."])
def test_import_refuses_names_that_cannot_be_looked_up(
    tiny_gguf: Path, tmp_path: Path, name: str
) -> None:
    layout = HomeLayout.current().ensure()
    registry = ModelRegistry(layout, shipped_dir=tmp_path / "none")
    with pytest.raises(InvalidModelNameError, match="model name"):
        registry.import_gguf(tiny_gguf, name=name)
    assert registry.list() == []


def test_import_refuses_adapter_names_and_adapter_files(tiny_gguf: Path, tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    (shipped / "tuned").mkdir(parents=True)
    manifest = {"name": "tuned", "base": "missing-base", "adapter": "tuned-lora.gguf"}
    (shipped / "tuned" / "adapter.json").write_text(json.dumps(manifest))
    registry = ModelRegistry(HomeLayout.current().ensure(), shipped_dir=shipped)
    with pytest.raises(ModelNameTakenError, match="'tuned' exists"):
        registry.import_gguf(tiny_gguf, name="tuned")
    with pytest.raises(NotAModelError, match="is a LoRA adapter, not a model"):
        registry.import_gguf(repo_models_dir() / "hearth-smol" / "hearth-smol-lora.gguf")
    assert registry.list() == []


# A key length of 2^40 bytes: the reader once tried to allocate it.
HOSTILE_GGUF = b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 2**40) + b"general.name"
HOSTILE_REASON = "the length of a key at byte 24 is 1,099,511,627,776; the limit is 65,535"


def home_with_a_hostile_file(tiny_gguf: Path) -> HomeLayout:
    layout = HomeLayout.current().ensure()
    (layout.models / "good.gguf").write_bytes(tiny_gguf.read_bytes())
    (layout.models / "hostile.gguf").write_bytes(HOSTILE_GGUF)
    return layout


def test_a_hostile_file_is_listed_as_broken_and_breaks_no_lookup(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    layout = home_with_a_hostile_file(tiny_gguf)
    registry = ModelRegistry(layout, shipped_dir=tmp_path / "none")
    assert [e.name for e in registry.list()] == ["good"]
    [broken] = registry.broken()
    assert (broken.name, broken.source, broken.path) == (
        "hostile",
        "user",
        layout.models / "hostile.gguf",
    )
    assert str(broken.path) in broken.reason and HOSTILE_REASON in broken.reason
    assert registry.get("good").info.architecture == "llama"
    with pytest.raises(UnknownModelError, match=r"known models: good\)"):
        registry.get("other")
    with pytest.raises(InvalidGgufError, match=HOSTILE_REASON):
        registry.get("hostile")


def test_models_routes_serve_around_a_hostile_file(tiny_gguf: Path) -> None:
    layout = home_with_a_hostile_file(tiny_gguf)
    app = create_app(Services.open(layout, Settings()), "token")
    with TestClient(
        app, base_url="http://localhost", headers={"Authorization": "Bearer token"}
    ) as http:
        listed = http.get("/v1/models")
        assert listed.status_code == 200, listed.text
        names = [m["id"] for m in listed.json()["data"]]
        assert "good" in names and "hostile" not in names
        assert "good" in [m["name"] for m in http.get("/hearth/models").json()]
        unknown = http.get("/v1/models/other")
        assert unknown.status_code == 404 and "good" in unknown.json()["error"]["message"]
        hostile = http.get("/hearth/models/hostile")
        assert hostile.status_code == 400
        assert hostile.json()["error"]["code"] == "invalid_gguf"
        assert HOSTILE_REASON in hostile.json()["error"]["message"]


def test_models_list_shows_the_broken_file_with_its_reason(
    tiny_gguf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home_with_a_hostile_file(tiny_gguf)
    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("good ") for line in lines)
    [broken] = [line for line in lines if line.startswith("hostile ")]
    assert "broken:" in broken and HOSTILE_REASON in broken
    assert main(["models", "list", "--json"]) == 0
    printed = capsys.readouterr()
    assert "good" in [m["name"] for m in json.loads(printed.out)]
    assert "hostile" in printed.err and HOSTILE_REASON in printed.err
