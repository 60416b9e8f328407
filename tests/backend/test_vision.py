"""Vision models: a GGUF paired with its mmproj sees images through llama.cpp's mtmd.

The projector is a random-weight LLaVA-1.5-style mmproj from `training.testing`, sized for the
tiny text model: each image becomes (32 / 8)**2 = 16 embeddings in the prompt.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from backend.images.decode import ImageDecodeError
from backend.llm.context_window import PromptTooLongError
from backend.llm.runtime import LlamaRuntime, ModelLoadError
from backend.llm.types import ChatRequest, Finished, SamplingParams
from backend.models.registry import ModelRegistry, find_projector
from backend.paths import HomeLayout
from backend.settings import Settings
from tests.backend.test_llm_runtime import chat
from training.testing import build_tiny_mmproj

IMAGE_TOKENS = 16


def png_bytes(colour: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def tiny_mmproj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_mmproj(tmp_path_factory.mktemp("vision") / "mmproj.gguf")


@pytest.mark.parametrize(
    ("files", "model", "expected"),
    [
        (["foo.gguf", "foo-mmproj-f16.gguf"], "foo.gguf", "foo-mmproj-f16.gguf"),
        (["foo.gguf", "mmproj-foo-Q8_0.gguf"], "foo.gguf", "mmproj-foo-Q8_0.gguf"),
        (["Foo.gguf", "mmproj-foo.gguf"], "Foo.gguf", "mmproj-foo.gguf"),
        (["llava.gguf", "mmproj-model-f16.gguf"], "llava.gguf", "mmproj-model-f16.gguf"),
        (["a.gguf", "b.gguf", "mmproj-model-f16.gguf"], "a.gguf", None),
        (["foo.gguf", "foobar.gguf", "mmproj-foobar.gguf"], "foo.gguf", None),
        (["foo.gguf", "foobar.gguf", "mmproj-foobar.gguf"], "foobar.gguf", "mmproj-foobar.gguf"),
        (["foo.gguf"], "foo.gguf", None),
    ],
)
def test_projector_is_paired_by_its_name_or_as_the_folders_only_one(
    tmp_path: Path, files: list[str], model: str, expected: str | None
) -> None:
    for name in files:
        (tmp_path / name).touch()
    found = find_projector(tmp_path / model)
    assert (found.name if found else None) == expected


def test_registry_pairs_a_vision_model_and_never_lists_its_projector(
    tiny_gguf: Path, tiny_mmproj: Path, tmp_path: Path
) -> None:
    layout = HomeLayout.current().ensure()
    (layout.models / "seer.gguf").write_bytes(tiny_gguf.read_bytes())
    (layout.models / "seer-mmproj-f32.gguf").write_bytes(tiny_mmproj.read_bytes())
    (layout.models / "tiny.gguf").write_bytes(tiny_gguf.read_bytes())
    registry = ModelRegistry(layout, shipped_dir=tmp_path / "none")

    entries = {entry.name: entry for entry in registry.list()}
    assert set(entries) == {"seer", "tiny"}
    assert entries["seer"].mmproj == layout.models / "seer-mmproj-f32.gguf"
    assert entries["seer"].to_dict()["vision"] is True
    assert "vision_note" not in entries["seer"].to_dict()
    blind = entries["tiny"].to_dict()
    assert blind["vision"] is False and "no vision projector" in blind["vision_note"]
    assert registry.get("seer").vision and not registry.get("tiny").vision


@pytest.fixture
def runtime(tiny_gguf: Path, tiny_mmproj: Path, tmp_path: Path) -> Iterator[LlamaRuntime]:
    layout = HomeLayout.current().ensure()
    (layout.models / "seer.gguf").write_bytes(tiny_gguf.read_bytes())
    (layout.models / "mmproj-seer.gguf").write_bytes(tiny_mmproj.read_bytes())
    (layout.models / "tiny.gguf").write_bytes(tiny_gguf.read_bytes())
    rt = LlamaRuntime(
        ModelRegistry(layout, shipped_dir=tmp_path / "none"), Settings(context_size=512, threads=2)
    )
    yield rt
    rt.close()


def ask(
    runtime: LlamaRuntime,
    images: tuple[bytes, ...] = (),
    cancel_after: int | None = None,
    max_tokens: int = 8,
) -> tuple[str, Finished]:
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, seed=7)
    request = ChatRequest("seer", [{"role": "user", "content": "What is this?"}], params, images)
    tokens, finished = chat(runtime, request, cancel_after)
    return "".join(tokens), finished


def test_images_enter_the_prompt_as_embeddings(runtime: LlamaRuntime) -> None:
    _, text_only = ask(runtime)
    _, one = ask(runtime, (png_bytes("red"),))
    _, two = ask(runtime, (png_bytes("red"), png_bytes("blue")))
    assert one.timings.prompt_tokens > text_only.timings.prompt_tokens + IMAGE_TOKENS
    assert two.timings.prompt_tokens == one.timings.prompt_tokens + IMAGE_TOKENS


def test_the_model_sees_the_pixels(runtime: LlamaRuntime) -> None:
    before, _ = ask(runtime)
    red, _ = ask(runtime, (png_bytes("red"),))
    blue, _ = ask(runtime, (png_bytes("blue"),))
    assert red != blue  # same prompt, same seed, greedy: only the image differs
    assert ask(runtime, (png_bytes("red"),))[0] == red
    # The image's cache positions are not reused by a later text-only prompt.
    assert ask(runtime)[0] == before


def test_a_vision_chat_can_be_cancelled(runtime: LlamaRuntime) -> None:
    text, finished = ask(runtime, (png_bytes("red"),), cancel_after=0)
    assert finished.finish_reason == "cancelled" and text == ""
    assert finished.timings.completion_tokens == 0
    _, finished = ask(runtime, (png_bytes("red"),), cancel_after=2, max_tokens=64)
    assert finished.finish_reason == "cancelled"
    assert finished.timings.completion_tokens < 64


def test_too_many_images_for_the_context_are_refused(runtime: LlamaRuntime) -> None:
    with pytest.raises(PromptTooLongError, match="tokens"):
        ask(runtime, (png_bytes("red"),) * 40)  # 640 image tokens in a 512-token context


def test_an_unreadable_image_is_named(runtime: LlamaRuntime) -> None:
    with pytest.raises(ImageDecodeError, match="image 2"):
        ask(runtime, (png_bytes("red"), b"not an image"))


def test_a_projector_for_another_model_fails_clearly(tiny_gguf: Path, tmp_path: Path) -> None:
    layout = HomeLayout.current().ensure()
    (layout.models / "seer.gguf").write_bytes(tiny_gguf.read_bytes())
    build_tiny_mmproj(layout.models / "seer-mmproj.gguf", text_hidden_size=32)  # model is 64
    rt = LlamaRuntime(
        ModelRegistry(layout, shipped_dir=tmp_path / "none"), Settings(context_size=512, threads=2)
    )
    try:
        with pytest.raises(ModelLoadError, match="seer-mmproj.gguf.*made for this model"):
            ask(rt, (png_bytes("red"),))
        assert ask(rt)[1].finish_reason in ("stop", "length")  # text chat still works
    finally:
        rt.close()
