"""The CLIP runtime on ONNX Runtime against open_clip in torch, and zero-shot labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from open_clip.transform import image_transform
from PIL import Image

from backend.images.clip import ClipModel, InvalidClipModelError
from backend.images.labels import NoLabelsError, label_image
from tests.backend.conftest import TinyClip, cosines


def sample_images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    wide = Image.fromarray(rng.integers(0, 255, (40, 90, 3), dtype=np.uint8))
    tall = Image.new("RGB", (33, 70), "red")
    tall.paste(Image.new("RGB", (10, 10), "blue"), (5, 30))
    square = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return [wide, tall, square]


def test_image_embeddings_match_open_clip(tiny_clip: TinyClip) -> None:
    runtime, clip = ClipModel(tiny_clip.folder), tiny_clip.torch_model
    images = sample_images()
    transform = image_transform(
        32, is_train=False, mean=runtime.preprocess.mean, std=runtime.preprocess.std
    )
    with torch.no_grad():
        reference = clip.encode_image(torch.stack([transform(i) for i in images])).numpy()
    assert cosines(runtime.embed_images(images), reference).min() >= 0.999


def test_text_embeddings_match_open_clip(tiny_clip: TinyClip) -> None:
    runtime, clip = ClipModel(tiny_clip.folder), tiny_clip.torch_model
    texts = ["a photo of a red car", "a dog", "something never seen in training, with ünïcode"]
    with torch.no_grad():
        reference = clip.encode_text(torch.from_numpy(runtime.tokenize(texts))).numpy()
    assert cosines(runtime.embed_texts(texts), reference).min() >= 0.999


def test_tokens_follow_clip_conventions(tiny_clip: TinyClip) -> None:
    runtime = ClipModel(tiny_clip.folder)
    (ids,) = runtime.tokenize(["A RED car"])
    assert ids.shape == (16,) and ids[0] == 1  # <start_of_text>
    end = int(ids.max())
    assert list(ids).index(end) < 16 and ids[-1] == 0  # padded with 0 after the end token
    (long_ids,) = runtime.tokenize(["car " * 100])
    assert long_ids[-1] == end, "a truncated text still ends with the end token"


def test_labels_are_probabilities_over_the_vocabulary(tiny_clip: TinyClip) -> None:
    runtime = ClipModel(tiny_clip.folder)
    image = sample_images()[0]
    every = label_image(runtime, image, top=100)
    assert sorted(label.label for label in every) == sorted(runtime.default_labels)
    assert sum(label.score for label in every) == pytest.approx(1.0, abs=1e-5)
    assert [label.score for label in every] == sorted(
        (label.score for label in every), reverse=True
    )
    mine = label_image(runtime, image, labels=["cat", "bicycle"], top=5)
    assert {label.label for label in mine} == {"cat", "bicycle"}
    assert sum(label.score for label in mine) == pytest.approx(1.0, abs=1e-5)


def test_no_labels_at_all_is_a_clear_error(tiny_clip: TinyClip, tmp_path: Path) -> None:
    folder = tmp_path / "no-labels"
    folder.mkdir()
    for item in tiny_clip.folder.iterdir():
        if item.name != "labels.txt":
            (folder / item.name).write_bytes(item.read_bytes())
    manifest = (folder / "manifest.json").read_text().replace('"labels.txt"', "null")
    (folder / "manifest.json").write_text(manifest)
    with pytest.raises(NoLabelsError):
        label_image(ClipModel(folder), sample_images()[1])


def test_incomplete_model_folder_is_refused(tiny_clip: TinyClip, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "manifest.json").write_text((tiny_clip.folder / "manifest.json").read_text())
    with pytest.raises(InvalidClipModelError, match="lacks image.onnx"):
        ClipModel(folder)
