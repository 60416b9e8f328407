"""hearth-clip-tiny v2's data: icon names to concepts, icon themes, reserved sets, the
cross-style split and the evaluation's arithmetic. Tiny synthetic icons; no apt, no network."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from training.clip.captions import icon_captions, icon_concept
from training.clip.data import Example, load_dataset
from training.clip.icons import IconTheme, icon_examples, package_license, theme_icons
from training.clip.reserved import (
    ReservedDataError,
    refuse_reserved_package,
    refuse_reserved_path,
    refuse_reserved_tree,
)
from training.clip.split import StyleSplit, hash_percent, split_styles
from training.clip.style_data import fetch_debs, summarise
from training.clip.style_eval import (
    SetScore,
    evaluate_styles,
    load_embedder,
    top_k_accuracy,
    truth_ranks,
)

WORDS = {
    "calculator", "music", "folder", "open", "hard", "disk", "drive", "copy", "keyboard",
    "audio", "file", "smile", "face", "angry", "low", "battery", "network", "wireless", "text",
    "bold", "new", "document",
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "context", "concept"),
    [
        ("accessories-calculator", "apps", "calculator"),  # category prefix removed
        ("folder-music", "places", "music folder"),  # context noun moves last
        ("folder-music-open", "places", "open music folder"),  # state words first
        ("drive-harddisk", "devices", "hard disk drive"),  # an exception
        ("edit-copy", "actions", "copy"),  # action prefix removed
        ("preferences-desktop-keyboard", "apps", "keyboard"),
        ("audio-x-generic", "mimetypes", "audio file"),  # generic file types only
        ("face-angry-symbolic", "emotes", "angry face"),  # variant suffix dropped
        ("battery-low", "status", "low battery"),
        ("network-wireless", "status", "wireless network"),
        ("format-text-bold", "actions", "bold text"),  # both rules
        ("document-new", "actions", "new document"),
    ],
)
def test_icon_names_become_concepts(name: str, context: str, concept: str) -> None:
    assert icon_concept(name, context, WORDS) == concept


@pytest.mark.parametrize(
    ("name", "context"),
    [
        ("firefox", "apps"),  # an application id
        ("org.gnome.Calculator", "apps"),
        ("calculator", "apps"),  # in apps, only category-prefixed names name a concept
        ("text-x-python", "mimetypes"),  # a specific file type: a label, not a picture
        ("folder-red-music", "places"),  # a colour scheme of folder-music
        ("nm-signal-100", "status"),  # digits
        ("folder-gnome", "places"),  # a desktop's name
        ("start-here", "places"),  # a distribution logo
        ("dropboxstatus-busy", "status"),  # not English
        ("calculator", "panel"),  # tray icons
    ],
)
def test_names_that_give_no_concept_are_dropped(name: str, context: str) -> None:
    assert icon_concept(name, context, WORDS) is None


def test_captions_name_the_concept_with_an_article() -> None:
    assert icon_captions("calculator") == ["calculator", "a calculator"]
    assert icon_captions("open music folder") == ["open music folder", "an open music folder"]


@pytest.mark.parametrize(
    "package", ["fonts-symbola", "fonts-twemoji-svginot", "openmoji-svg", "ttf-ancient-fonts"]
)
def test_reserved_packages_are_refused_before_any_download(package: str, tmp_path: Path) -> None:
    with pytest.raises(ReservedDataError, match="reserved for evaluation"):
        refuse_reserved_package(package)
    with pytest.raises(ReservedDataError):
        fetch_debs(tmp_path, ["tango-icon-theme", package])  # raises before apt-get runs
    assert not (tmp_path / "debs").exists()


def test_reserved_paths_are_refused_and_others_pass(tmp_path: Path) -> None:
    refuse_reserved_package("papirus-icon-theme")
    refuse_reserved_path("usr/share/icons/Papirus/64x64/apps/accessories-calculator.svg")
    with pytest.raises(ReservedDataError, match="symbola"):
        refuse_reserved_path("usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf")
    (tmp_path / "usr/share/icons/Tango").mkdir(parents=True)
    refuse_reserved_tree(tmp_path)
    (tmp_path / "usr/share/fonts/TwEmoji").mkdir(parents=True)
    with pytest.raises(ReservedDataError, match="twemoji"):
        refuse_reserved_tree(tmp_path)


def _icon(path: Path, shape: str, colour: str, size: int = 48) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    box = (size // 6, size // 6, size * 5 // 6, size * 5 // 6)
    (draw.ellipse if shape == "circle" else draw.rectangle)(box, fill=colour, outline="black")
    image.save(path)


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: test

Files: debian/*
License: GPL-3+

Files: *
Copyright: someone
License: CC-BY-SA-3.0 or LGPL-3
"""


def _theme(files: Path) -> IconTheme:
    theme = files / "usr/share/icons/Test"
    _icon(theme / "48x48/apps/accessories-calculator.png", "rectangle", "grey")
    _icon(theme / "16x16/apps/accessories-calculator.png", "circle", "red", 16)  # smaller
    _icon(theme / "48x48/apps/firefox.png", "circle", "orange")  # an application id
    _icon(theme / "48x48/places/folder-music.png", "rectangle", "blue")
    _icon(theme / "22x22/devices/battery-low.png", "rectangle", "green", 22)  # too small
    os.symlink("folder-music.png", theme / "48x48/places/folder-audio.png")  # an alias
    _icon(theme / "scalable/emotes/face-smile-symbolic.png", "circle", "black")  # one colour
    doc = files / "usr/share/doc/test-icon-theme"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT, encoding="utf-8")
    return IconTheme("test", "test-icon-theme", "Test")


def test_a_theme_gives_its_largest_named_icons_with_the_package_licence(tmp_path: Path) -> None:
    files, out = tmp_path / "files", tmp_path / "dataset"
    theme = _theme(files)
    icons = {i.name: i for i in theme_icons(files / "usr/share/icons/Test")}
    assert set(icons) == {"accessories-calculator", "battery-low", "firefox", "folder-music"}
    assert icons["accessories-calculator"].size == 48
    assert package_license(files, theme.package) == "CC-BY-SA-3.0 or LGPL-3"
    examples = list(icon_examples(files, out, theme, WORDS, rsvg_convert=None))
    assert sorted(e.concept for e in examples) == ["calculator", "music folder"]
    for example in examples:
        assert example.source == "test" and example.license == "CC-BY-SA-3.0 or LGPL-3"
        image = Image.open(out / example.image)
        assert image.mode == "RGBA" and max(image.size) <= 96
    assert summarise(examples) == {
        "styles": {"test": {"images": 2, "concepts": 2}},
        "concepts": 2,
    }


def test_an_svg_without_a_renderer_is_an_error_not_a_silent_skip(tmp_path: Path) -> None:
    files = tmp_path / "files"
    theme = _theme(files)
    svg = files / "usr/share/icons/Test/scalable/devices/battery-low.svg"
    svg.parent.mkdir(parents=True)
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>')
    with pytest.raises(FileNotFoundError, match="rsvg-convert"):
        list(icon_examples(files, tmp_path / "out", theme, WORDS, rsvg_convert=None))


STYLES = ("papirus", "breeze", "oxygen", "tango")


def _examples(concepts: int = 300) -> list[Example]:
    """Every concept in every icon style, plus emoji with concepts of their own."""
    icons = [
        Example(f"{style}/{c}.png", f"concept {c}", [f"concept {c}"], style, "test")
        for style in STYLES
        for c in range(concepts)
    ]
    emoji = [Example(f"emoji/{c}.png", f"emoji {c}", [], "emoji", "OFL") for c in range(50)]
    return icons + emoji


def test_the_split_keeps_styles_images_and_concepts_apart() -> None:
    examples = _examples()
    split = split_styles(examples, "oxygen", concept_percent=10, image_percent=10)
    trained_concepts = {e.concept for e in split.train}
    trained_images = {e.image for e in split.train}
    assert all(e.source != "oxygen" for e in split.train)
    assert {e.source for e in split.held_out_style} == {"oxygen"}
    assert {e.concept for e in split.held_out_style} <= trained_concepts  # a test of style
    assert not {e.image for e in split.held_out_images} & trained_images
    assert {e.concept for e in split.held_out_images} <= trained_concepts
    assert {e.source for e in split.held_out_images} <= {"papirus", "breeze", "tango"}
    assert not {e.concept for e in split.unseen_concepts} & trained_concepts
    assert "oxygen" not in {e.source for e in split.unseen_concepts}
    assert {e.source for e in split.unseen_concepts} >= {"emoji", "papirus"}
    # Every picture is in exactly one part, or (an unseen concept in the held-out style) none.
    parts = [split.train, *split.test_sets().values()]
    assert sum(map(len, parts)) == len(examples) - sum(
        1 for e in examples if e.source == "oxygen" and hash_percent(e.concept) < 10
    )
    # Shares near the asked percentages, and at least 300 concepts in the held-out style.
    assert 15 <= len({e.concept for e in split.unseen_concepts if e.source != "emoji"}) <= 50
    assert 60 <= len(split.held_out_images) <= 140
    assert len({e.concept for e in split.held_out_style}) >= 250


def test_the_split_is_stable_and_names_a_missing_style() -> None:
    examples = _examples(40)
    forward, backward = split_styles(examples, "tango"), split_styles(examples[::-1], "tango")
    for part, other in zip(
        [forward.train, *forward.test_sets().values()],
        [backward.train, *backward.test_sets().values()],
        strict=True,
    ):
        assert sorted(e.image for e in part) == sorted(e.image for e in other)
    with pytest.raises(ValueError, match="no style named 'twemoji'"):
        split_styles(examples, "twemoji")


def test_top_k_arithmetic_on_a_made_up_score_matrix() -> None:
    scores = np.array(
        [
            [0.9, 0.1, 0.0, 0.0, 0.0, 0.0],  # truth 0: rank 0
            [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],  # truth 2: rank 2
            [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],  # truth 5: rank 5, outside the top 5
            [0.5, 0.5, 0.1, 0.0, 0.0, 0.0],  # truth 1 tied with class 0: counts as rank 1
        ]
    )
    truth = np.array([0, 2, 5, 1])
    assert truth_ranks(scores, truth).tolist() == [0, 2, 5, 1]
    assert top_k_accuracy(scores, truth, 1) == 0.25
    assert top_k_accuracy(scores, truth, 5) == 0.75
    assert top_k_accuracy(scores, truth, 6) == 1.0


def test_chance_is_one_in_n_and_five_in_n() -> None:
    line = SetScore("held-out style", images=400, classes=400, top1=0.05, top5=0.25).line()
    assert "400 concepts" in line
    assert "top-1 0.050 (20.0x chance 0.0025)" in line
    assert "top-5 0.250 (20.0x chance 0.0125)" in line


class _ShapeEmbedder:
    """Embeds a picture by its mean colour and a name by the colour word it holds, so the
    evaluation's bookkeeping can be checked against answers known in advance."""

    COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}

    def images(self, images: Sequence[Image.Image]) -> np.ndarray:
        means = [np.asarray(i.convert("RGB"), np.float32).mean(axis=(0, 1)) for i in images]
        return np.array(means) / np.linalg.norm(means, axis=1, keepdims=True)

    def labels(self, names: Sequence[str]) -> np.ndarray:
        return np.array([self.COLOURS[name.split()[0]] for name in names])


def test_evaluation_scores_each_set_against_its_own_concepts(tmp_path: Path) -> None:
    examples = []
    for style, colour in (("a", "red"), ("b", "green"), ("c", "blue")):
        path = tmp_path / f"{style}.png"
        Image.new("RGBA", (8, 8), colour).save(path)
        examples.append(Example(path.name, f"{colour} thing", [], style, "test"))
    wrong = tmp_path / "wrong.png"
    Image.new("RGBA", (8, 8), "red").save(wrong)  # drawn red, named green
    examples.append(Example(wrong.name, "green thing", [], "b", "test"))
    split = StyleSplit(train=[], held_out_style=examples, held_out_images=[], unseen_concepts=[])
    (score,) = evaluate_styles(_ShapeEmbedder(), tmp_path, split)
    assert (score.name, score.images, score.classes) == ("held-out style", 4, 3)
    assert score.top1 == 0.75
    assert score.by_style["b"] == (2, 0.5, 1.0)


def test_a_prepared_dataset_loads_with_its_style_as_source(tmp_path: Path) -> None:
    example = Example("tango/1.png", "calculator", ["calculator"], "tango", "public-domain")
    (tmp_path / "dataset.jsonl").write_text(json.dumps(example.__dict__) + "\n")
    assert load_dataset(tmp_path) == [example]


def test_training_keeps_the_held_out_style_out_and_evaluates_on_it(tmp_path: Path) -> None:
    from training.clip.testing import TINY
    from training.clip.train import ClipTrainConfig, train_clip

    shapes = [("circle", "red"), ("rectangle", "blue"), ("circle", "green"), ("rectangle", "grey")]
    lines = []
    for style in ("papirus", "tango", "oxygen"):
        for index, (shape, colour) in enumerate(shapes * 3):
            image = f"{style}/{index}.png"
            _icon(tmp_path / image, shape, colour, 24)
            concept = f"{colour} {shape} {index}"
            lines.append(json.dumps(Example(image, concept, [concept], style, "test").__dict__))
    (tmp_path / "dataset.jsonl").write_text("\n".join(lines) + "\n")
    config = ClipTrainConfig(
        model=TINY, epochs=1, batch_size=4, warmup_steps=1, holdout_percent=10,
        held_out_style="oxygen", image_holdout_percent=0, style_probability=1.0,
    )  # fmt: skip
    history = train_clip(tmp_path, config, tmp_path / "run")
    split = split_styles(load_dataset(tmp_path), "oxygen", 10, 0)
    assert history["classes"] == len({e.concept for e in split.held_out_style}) > 0
    assert 0.0 <= history["top5"][0] <= 1.0
    # The checkpoint evaluates across styles as a runtime folder would.
    scores = evaluate_styles(load_embedder(tmp_path / "run/checkpoint.pt"), tmp_path, split)
    expected = {name: len({e.concept for e in part}) for name, part in split.test_sets().items()}
    assert {s.name: s.classes for s in scores} == {k: v for k, v in expected.items() if v}
    assert all(0.0 <= s.top1 <= s.top5 <= 1.0 for s in scores)


def test_every_data_package_has_its_licence_recorded() -> None:
    from training.clip.data import PACKAGES
    from training.clip.style_data import DATA_LICENCES

    assert set(DATA_LICENCES) == set(PACKAGES)


def test_a_renderer_that_cannot_run_is_named_before_any_icon(tmp_path: Path) -> None:
    from training.clip.style_data import svg_renderer

    renderer = tmp_path / "usr/bin/rsvg-convert"
    renderer.parent.mkdir(parents=True)
    renderer.write_text("#!/bin/sh\nexit 127\n")  # as when librsvg-2.so.2 is missing
    renderer.chmod(0o755)
    with pytest.raises(RuntimeError, match="librsvg2-2"):
        svg_renderer(tmp_path)
    renderer.write_text("#!/bin/sh\necho rsvg-convert version 2.54.7\n")
    assert svg_renderer(tmp_path) == renderer


def test_a_resnet_image_tower_from_the_v2_recipe_reloads_and_exports_as_it_runs(
    tmp_path: Path,
) -> None:
    """The v2 recipe's list of stages builds open_clip's ResNet; its checkpoint reloads with
    the same config, and the exported image tower embeds as torch does."""
    import onnxruntime
    import torch

    from training.clip.checkpoint import export_checkpoint, load_checkpoint
    from training.clip.model import build_clip
    from training.clip.testing import TINY
    from training.clip.tokenizer import END, train_clip_bpe
    from training.clip.train import ClipTrainConfig, save_checkpoint

    recipe = ClipTrainConfig.from_file(Path("models/recipes/hearth-clip-tiny-v2.yaml"))
    assert isinstance(recipe.model.vision_layers, tuple) and recipe.held_out_style == "oxygen"
    config = dataclasses.replace(
        TINY, vision_layers=(1, 1, 1, 1), vision_width=8, vision_head_width=16
    )
    tokenizer = train_clip_bpe(["a red circle", "a blue square"] * 20, 300, TINY.context_length)
    config = dataclasses.replace(config, vocab_size=tokenizer.get_vocab_size())
    clip = build_clip(config, end_token_id=tokenizer.token_to_id(END))
    assert type(clip.visual).__name__ == "ModifiedResNet"
    history = {"epoch": [1], "loss": [1.0], "top1": [0.0], "top5": [0.0], "classes": 2}
    examples = [Example("x.png", "red circle", ["red circle"], "emoji", "test")]
    save_checkpoint(tmp_path / "run/checkpoint.pt", clip, config, tokenizer, examples, history)
    reloaded, _, reloaded_config, _ = load_checkpoint(tmp_path / "run/checkpoint.pt")
    assert reloaded_config == config
    folder = export_checkpoint(tmp_path / "run/checkpoint.pt", tmp_path / "out", "resnet-clip")
    pixels = np.random.default_rng(0).random((2, 3, 32, 32), dtype=np.float32)
    session = onnxruntime.InferenceSession(str(folder / "image.onnx"))
    (exported,) = session.run(None, {"pixels": pixels})
    with torch.no_grad():
        expected = reloaded.encode_image(torch.from_numpy(pixels)).numpy()
    np.testing.assert_allclose(exported, expected, atol=1e-4)
