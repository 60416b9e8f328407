"""A vision GGUF through the OpenAI API: pixels with a projector, CLIP labels without."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backend.conftest import InProcessRealBackend, TinyClip, prepare_home, serve_real
from tests.backend.test_images_api import data_url, png_bytes
from training.testing import build_tiny_mmproj

IMAGE_TOKENS = 16  # (32 / 8)**2 patches of the tiny projector


@pytest.fixture(scope="module")
def backend(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, tiny_clip: TinyClip
) -> Iterator[InProcessRealBackend]:
    layout = prepare_home(tmp_path_factory.mktemp("home"), tiny_gguf, image_model=tiny_clip.name)
    shutil.copy(tiny_gguf, layout.models / "seer.gguf")
    build_tiny_mmproj(layout.models / "seer-mmproj-f32.gguf")
    tiny_clip.install(layout.root)
    running = serve_real(layout)
    yield running
    running.stop()


def ask(backend: InProcessRealBackend, model: str, colour: str | None, **extra: Any) -> Any:
    content: list[dict[str, Any]] = [{"type": "text", "text": "What is in this picture?"}]
    if colour:
        content.append({"type": "image_url", "image_url": {"url": data_url(png_bytes(colour))}})
    return backend.openai().chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": content}],
        max_tokens=6,
        temperature=0.0,
        seed=3,
        **extra,
    )


def test_the_model_list_says_which_models_can_see(backend: InProcessRealBackend) -> None:
    models = {m.id: m.model_extra for m in backend.openai().models.list().data}
    assert {"seer", "tiny"} <= set(models)
    assert not any("mmproj" in name for name in models)  # a projector is not a chat model
    assert models["seer"]["vision"] is True and "vision_note" not in models["seer"]
    assert models["tiny"]["vision"] is False
    assert "no vision projector" in models["tiny"]["vision_note"]


def test_a_vision_model_reads_the_image_itself(backend: InProcessRealBackend) -> None:
    red, blue, text = (
        ask(backend, "seer", "red"),
        ask(backend, "seer", "blue"),
        ask(backend, "seer", None),
    )
    hearth = red.model_extra["hearth"]
    assert hearth["vision"] is True and "vision_note" not in hearth
    assert len(hearth["attachments"]) == 1  # still stored for the conversation
    # The image's embeddings are in the prompt, not a list of labels.
    assert IMAGE_TOKENS < red.usage.prompt_tokens - text.usage.prompt_tokens < IMAGE_TOKENS + 4
    assert red.choices[0].message.content != blue.choices[0].message.content
    assert ask(backend, "seer", "red").choices[0].message.content == red.choices[0].message.content


def test_a_vision_model_streams(backend: InProcessRealBackend) -> None:
    chunks = list(ask(backend, "seer", "red", stream=True))
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert final and final[0].model_extra["hearth"]["vision"] is True
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == ask(backend, "seer", "red").choices[0].message.content


def test_a_model_without_projector_gets_labels_and_says_so(
    backend: InProcessRealBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # served in this process, it logs to this process's handlers
    with_image, without = ask(backend, "tiny", "red"), ask(backend, "tiny", None)
    hearth = with_image.model_extra["hearth"]
    assert hearth["vision"] is False
    assert "no vision projector" in hearth["vision_note"] and "mmproj" in hearth["vision_note"]
    assert len(hearth["attachments"][0]["labels"]) == 5
    # Labels with their scores, a few dozen tokens, went into the prompt instead of pixels.
    assert with_image.usage.prompt_tokens > without.usage.prompt_tokens + 40
    assert "no vision projector" in caplog.text
