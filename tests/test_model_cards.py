"""Every shipped model file is listed in its card with the right sha256, and ships loadable."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from PIL import Image

from backend.images.clip import ClipModel
from backend.images.labels import label_embeddings, label_image
from backend.images.registry import find_clip_model
from backend.paths import HomeLayout, repo_models_dir
from backend.settings import Settings

FILE_ROW = re.compile(r"^\| `([^`]+)` \| ([\d,]+) \| `([0-9a-f]{64})` \|$", re.MULTILINE)
CARDS = sorted(repo_models_dir().glob("*/MODEL_CARD.md"))


def test_there_are_shipped_model_cards() -> None:
    assert any(card.parent.name == "hearth-clip-tiny" for card in CARDS)


@pytest.mark.parametrize("card", CARDS, ids=lambda card: card.parent.name)
def test_card_lists_every_file_with_its_sha256(card: Path) -> None:
    rows = FILE_ROW.findall(card.read_text(encoding="utf-8"))
    assert rows, f"{card} has no file table"
    listed = {name for name, _, _ in rows}
    shipped = {p.name for p in card.parent.iterdir() if p.is_file() and p.name != "MODEL_CARD.md"}
    assert listed == shipped, f"unlisted or missing files in {card.parent}"
    for name, size, digest in rows:
        data = (card.parent / name).read_bytes()
        assert len(data) == int(size.replace(",", "")), name
        assert hashlib.sha256(data).hexdigest() == digest, name


def test_the_shipped_image_model_is_the_default_and_labels_a_picture() -> None:
    folder = find_clip_model(HomeLayout.current(), Settings().image_model)
    model = ClipModel(folder)
    assert len(model.default_labels) > 1000
    assert model.default_label_embeddings is not None
    fresh = label_embeddings(model, model.default_labels[:20])
    assert abs(model.default_label_embeddings[:20] - fresh).max() < 1e-4, "stale label cache"
    picture = Image.new("RGB", (120, 90), "skyblue")
    labels = label_image(model, picture, top=len(model.default_labels))
    assert sum(label.score for label in labels) == pytest.approx(1.0, abs=1e-4)
