"""`hearth images label` and `hearth models import-clip` as a user runs them.

The commands run in this process (`run_hearth`), except one run of the installed `hearth images`
that keeps its entry point covered; import-clip's conversion still runs in the `training`
subprocess it starts, as it does in a developer's install."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import open_clip
import pytest
import safetensors.torch
import torch
from PIL import Image

from backend.cli.models import TRAINING_EXTRA_NEEDED, checkpoint_problem
from backend.images.clip import ClipModel
from tests.backend.conftest import TinyClip, cosines
from tests.backend.inprocess_cli import Result, run_hearth, run_installed_hearth

TINY_STANDARD_CLIP = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def test_label_prints_json_probabilities(
    hearth_home: Path, tiny_clip: TinyClip, tmp_path: Path
) -> None:
    tiny_clip.install(hearth_home)
    photo = tmp_path / "photo.png"
    Image.new("RGB", (50, 40), "orange").save(photo)
    result = run_hearth(
        "images", "label", str(photo), "--model", tiny_clip.name, "--json", "--top", "3"
    )
    assert result.code == 0, result.err
    labels = json.loads(result.out)["labels"]
    assert len(labels) == 3 and {"label", "score"} <= set(labels[0])
    custom = run_hearth(
        "images", "label", str(photo), "--model", tiny_clip.name, "--labels", "a,b", "--json"
    )
    scores = [item["score"] for item in json.loads(custom.out)["labels"]]
    assert sum(scores) == pytest.approx(1.0, abs=1e-4)


def test_label_errors_are_plain(hearth_home: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = run_installed_hearth("images", "label", str(broken))
    assert result.code == 1 and "Traceback" not in result.err
    assert "broken.jpg" in result.err
    photo = tmp_path / "ok.png"
    Image.new("RGB", (8, 8)).save(photo)
    missing = run_installed_hearth("images", "label", str(photo), "--model", "nope")
    assert "unknown image model 'nope'" in missing.err


def test_import_clip_converts_an_open_clip_checkpoint(hearth_home: Path, tmp_path: Path) -> None:
    config = tmp_path / "tiny-standard.json"
    config.write_text(json.dumps(TINY_STANDARD_CLIP))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    reference = open_clip.create_model("tiny-standard").eval()
    checkpoint = tmp_path / "mine.pt"
    torch.save(reference.state_dict(), checkpoint)

    result = run_hearth(
        "models", "import-clip", "--arch", str(config), "--checkpoint", str(checkpoint)
    )
    assert result.code == 0, result.err
    runtime = ClipModel(hearth_home / "models" / "clip" / "mine")
    texts = ["a photo of a cat", "Two DOGS, playing!", "naïve café 🐶"]
    tokens = open_clip.get_tokenizer("tiny-standard")(texts)
    assert np.array_equal(runtime.tokenize(texts), tokens.numpy())
    with torch.no_grad():
        expected = reference.encode_text(tokens).numpy()
    assert cosines(runtime.embed_texts(texts), expected).min() >= 0.999

    again = run_hearth(
        "models", "import-clip", "--arch", str(config), "--checkpoint", str(checkpoint)
    )
    assert again.code == 1 and "exists" in again.err


BAD_CHECKPOINTS = {
    "a text file": ("junk.pt", b"not a checkpoint", "not a PyTorch checkpoint"),
    "an empty file": ("junk.pt", b"", "empty"),
    "a folder": ("junk.pt", b"", "a folder"),
    "a missing file": ("junk.pt", b"", "does not exist"),
    "a text file named .safetensors": ("junk.safetensors", b"not json", "not a safetensors"),
    "a text file named .npz": ("junk.npz", b"not numpy", "not a NumPy file"),
}


@pytest.mark.parametrize("what", BAD_CHECKPOINTS)
def test_import_clip_refuses_what_is_not_a_checkpoint_at_once(
    what: str, hearth_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, content, reason = BAD_CHECKPOINTS[what]
    bad = tmp_path / name
    if what == "a folder":
        bad.mkdir()
    elif what != "a missing file":
        bad.write_bytes(content)

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("the training subprocess started")

    monkeypatch.setattr(subprocess, "run", no_subprocess)  # it would import torch first
    result = run_hearth("models", "import-clip", "--arch", "ViT-B-32", "--checkpoint", str(bad))
    assert result.code == 1 and len(result.err.splitlines()) == 1, result.err
    assert f"could not convert {bad}: " in result.err and reason in result.err
    assert not (hearth_home / "models").exists()


FAILING_CONVERSION = """
import pathlib, sys
out = pathlib.Path(sys.argv[sys.argv.index("--out") + 1])
(out / "half-written").mkdir(parents=True)
sys.exit("error: size mismatch for visual.proj")
"""


def test_import_clip_reports_a_failed_conversion_and_leaves_nothing(
    hearth_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = tmp_path / "mine.pt"
    torch.save({"w": torch.zeros(2)}, checkpoint)
    # a stand-in for `python -m training.clip` that fails half-way, without torch's import time
    failing = [sys.executable, "-c", FAILING_CONVERSION]
    monkeypatch.setattr("backend.cli.models._training_command", lambda: failing)
    result = run_hearth(
        "models", "import-clip", "--arch", "ViT-B-32", "--checkpoint", str(checkpoint)
    )
    assert_one_line_error(result, f"could not convert {checkpoint}: size mismatch for visual.proj")
    assert not any((hearth_home / "models" / "clip").iterdir())


def test_the_quick_check_accepts_every_format_open_clip_loads(tmp_path: Path) -> None:
    weights = {"w": torch.zeros(2)}
    torch.save(weights, tmp_path / "zip.pt")
    torch.save(weights, tmp_path / "legacy.bin", _use_new_zipfile_serialization=False)
    torch.save(weights, tmp_path / "protocol4.pth", pickle_protocol=4)
    safetensors.torch.save_file(weights, tmp_path / "model.safetensors")
    np.savez(tmp_path / "big_vision.npz", w=np.zeros(2))
    np.save(tmp_path / "array.npy", np.zeros(2))
    for path in sorted(tmp_path.iterdir()):
        assert checkpoint_problem(path) is None, path
    (tmp_path / "zip.npz").write_bytes((tmp_path / "zip.pt").read_bytes())
    assert checkpoint_problem(tmp_path / "zip.npz") is None  # np.load reads zips
    (tmp_path / "zip.safetensors").write_bytes((tmp_path / "zip.pt").read_bytes())
    assert checkpoint_problem(tmp_path / "zip.safetensors") == "it is not a safetensors file"


@pytest.mark.parametrize("where", ["the app bundle", "an install without torch"])
def test_import_clip_without_the_training_extra_says_what_to_install(
    where: str,
    hearth_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if where == "the app bundle":
        monkeypatch.setattr(sys, "frozen", True, raising=False)  # as PyInstaller sets it
    else:
        find_spec = importlib.util.find_spec
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *a: None if name == "torch" else find_spec(name, *a),
        )
    checkpoint = tmp_path / "mine.pt"
    checkpoint.write_bytes(b"never read")
    result = run_hearth(
        "models", "import-clip", "--arch", "ViT-B-32", "--checkpoint", str(checkpoint)
    )
    errors = result.err.splitlines()
    assert result.code == 1 and len(errors) == 1 and TRAINING_EXTRA_NEEDED in errors[0]
    assert "pip install 'hearth-assistant[train]'" in errors[0]
    assert not (hearth_home / "models" / "clip" / "mine").exists()


def assert_one_line_error(result: Result, message: str) -> None:
    assert result.code == 1, result.err
    assert result.err.splitlines() == [f"hearth: {message}"]


@pytest.mark.parametrize(
    "command",
    [
        ["images", "search", "red", "--k", "0"],
        ["images", "search", "red", "--k", "-1"],
        ["images", "similar", "photo.png", "--k", "0"],
        ["images", "label", "photo.png", "--top", "0"],
        ["images", "label", "photo.png", "--labels", ""],
        ["images", "label", "photo.png", "--labels", " , "],
    ],
)
def test_impossible_counts_and_empty_labels_are_refused(command: list[str]) -> None:
    result = run_hearth(*command)
    assert result.code == 2 and "Traceback" not in result.err
    assert "must be at least 1" in result.err or "no labels in it" in result.err


def test_an_unknown_image_model_in_settings_is_one_line(hearth_home: Path, tmp_path: Path) -> None:
    (hearth_home / "settings.json").parent.mkdir(parents=True)
    (hearth_home / "settings.json").write_text(json.dumps({"image_model": "gone"}))
    photo = tmp_path / "photo.png"
    Image.new("RGB", (8, 8)).save(photo)
    for command in (["index", str(tmp_path)], ["search", "red"], ["similar", str(photo)]):
        result = run_hearth("images", *command)
        assert_one_line_error(result, "unknown image model 'gone' (known: hearth-clip-tiny)")


def test_a_missing_folder_and_an_empty_index_are_explained(
    hearth_home: Path, tiny_clip: TinyClip, tmp_path: Path
) -> None:
    tiny_clip.install(hearth_home, as_default=True)
    missing = run_hearth("images", "index", str(tmp_path / "nowhere"))
    assert_one_line_error(missing, f"{tmp_path / 'nowhere'} is not a folder")
    photo = tmp_path / "photo.png"
    Image.new("RGB", (8, 8)).save(photo)
    nothing = "No images indexed yet. Index a folder with: hearth images index FOLDER\n"
    for command in (["search", "red"], ["similar", str(photo)]):
        result = run_hearth("images", *command)
        assert result.code == 0 and result.out == nothing


@pytest.mark.parametrize("name", ["", "a/b"])
def test_import_clip_checks_the_name_first(hearth_home: Path, tmp_path: Path, name: str) -> None:
    checkpoint = tmp_path / "mine.pt"
    checkpoint.write_bytes(b"never read")
    result = run_hearth(
        "models",
        "import-clip",
        "--arch",
        "ViT-B-32",
        "--checkpoint",
        str(checkpoint),
        "--name",
        name,
    )
    assert result.code == 1 and "model name" in result.err
    assert "Traceback" not in result.err
    assert not (hearth_home / "models" / "clip").exists() or not any(
        (hearth_home / "models" / "clip").iterdir()
    )
