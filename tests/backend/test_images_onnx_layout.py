"""Image models from the Hub's ONNX CLIP exports (Xenova's transformers.js layout): registered
from a folder, checked against transformers in torch, selected, searched through the backend,
and the folders indexed with another model offered for re-indexing.

No network: the folder is built from a tiny random `transformers.CLIPModel`, exported with the
input and output names of Xenova's export (training/clip/hf_testing.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from backend.cli.clip_models import default_name
from backend.images.clip import ClipManifest, ClipModel, InvalidClipModelError
from backend.images.onnx_layouts import (
    OPTIONAL_FILES,
    ImageModelExistsError,
    UnsupportedLayoutError,
    preprocess_from,
    register_clip_folder,
    verify_clip_files,
    xenova_files,
)
from backend.images.registry import clip_dir, clip_models
from backend.paths import HomeLayout, repo_models_dir
from backend.settings import Settings
from tests.backend.conftest import TinyClip, cosines, prepare_home, serve_real
from tests.backend.hub_mock import HubFileSpec, HubMock
from tests.backend.inprocess_cli import run_hearth

REPO = repo_models_dir().parent
TEXTS = ["a photo of a red car", "a dog on a beach", "an old woman in uniform", "car " * 40]


@dataclass(frozen=True)
class XenovaClip:
    folder: Path
    torch_model: Any


@pytest.fixture(scope="session")
def xenova_clip(tmp_path_factory: pytest.TempPathFactory) -> XenovaClip:
    from training.clip.hf_testing import build_xenova_clip

    folder = tmp_path_factory.mktemp("hub") / "clip-vit-tiny-patch8"
    return XenovaClip(*build_xenova_clip(folder, quantized=True))


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory, xenova_clip: XenovaClip) -> Path:
    """The folder registered as the image model "hub" (registering embeds the default labels,
    which takes seconds: done once)."""
    layout = HomeLayout(tmp_path_factory.mktemp("home"))
    return register_clip_folder(layout, xenova_clip.folder, "hub")


def real_images() -> list[Image.Image]:
    """A photograph (matplotlib's sample of Grace Hopper), a chart and an icon from this repo,
    and noise of an odd shape: every resize and crop path."""
    from matplotlib import cbook

    paths = [
        Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)),
        REPO / "models/hearth-clip-tiny/training_curve.png",
        REPO / "packaging/icons/hearth-256.png",
    ]
    noise = np.random.default_rng(0).integers(0, 255, (37, 90, 3), dtype=np.uint8)
    return [Image.open(path).convert("RGB") for path in paths] + [Image.fromarray(noise)]


def reference_image_features(xenova: XenovaClip, images: list[Image.Image], fast: bool) -> Any:
    from transformers import CLIPImageProcessor, CLIPImageProcessorPil

    kind = CLIPImageProcessor if fast else CLIPImageProcessorPil
    pixels = kind.from_pretrained(str(xenova.folder))(images=images, return_tensors="pt")
    with torch.no_grad():
        features = xenova.torch_model.get_image_features(pixel_values=pixels["pixel_values"])
    return getattr(features, "pooler_output", features).numpy()


def reference_text_features(xenova: XenovaClip, texts: list[str]) -> Any:
    from transformers import PreTrainedTokenizerFast

    config = json.loads((xenova.folder / "tokenizer_config.json").read_text())
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(xenova.folder / "tokenizer.json"),
        **{key: config[key] for key in ("bos_token", "eos_token", "pad_token")},
    )
    tokens = tokenizer(
        texts,
        padding="max_length",
        truncation=True,
        max_length=config["model_max_length"],
        return_tensors="pt",
    )
    with torch.no_grad():
        features = xenova.torch_model.get_text_features(**tokens)
    return getattr(features, "pooler_output", features).numpy()


def test_embeddings_match_transformers_on_real_images_and_texts(
    xenova_clip: XenovaClip, registered: Path
) -> None:
    model = ClipModel(registered)
    images = real_images()
    ours = model.embed_images(images)
    for fast in (False, True):  # transformers' PIL processor and its torchvision one
        reference = reference_image_features(xenova_clip, images, fast)
        assert cosines(ours, reference).min() >= 0.99
        # The images differ enough that a mix-up of any two would fail the check above.
        assert cosines(ours, np.roll(reference, 1, axis=0)).max() < 0.99
    texts = reference_text_features(xenova_clip, TEXTS)
    assert cosines(model.embed_texts(TEXTS), texts).min() >= 0.99
    assert cosines(model.embed_texts(TEXTS), np.roll(texts, 1, axis=0)).max() < 0.99
    # Hundreds of texts (a vocabulary) go in runs by length, and come back in their order.
    many = [f"{text} number {n}" for n in range(150) for text in TEXTS]
    one_by_one = np.concatenate([model.embed_texts([text]) for text in many[:: len(TEXTS) + 1]])
    assert cosines(model.embed_texts(many)[:: len(TEXTS) + 1], one_by_one).min() >= 0.9999


def test_registration_records_the_files_and_the_preprocessing(
    xenova_clip: XenovaClip, registered: Path
) -> None:
    folder = registered
    manifest = ClipManifest.read(folder)
    assert Path(manifest.image_tower) == xenova_clip.folder / "onnx/vision_model.onnx"
    assert (manifest.preprocess.size, manifest.preprocess.resize) == (32, 40)
    assert (manifest.context_length, manifest.pad_token) == (16, "<|endoftext|>")
    assert set(manifest.files) == {manifest.image_tower, manifest.text_tower, manifest.tokenizer}
    assert verify_clip_files(folder) == []
    with pytest.raises(ImageModelExistsError):
        register_clip_folder(HomeLayout(folder.parents[2]), xenova_clip.folder, "hub")
    # The default vocabulary came along, embedded once: an attached image gets labels at once.
    model = ClipModel(folder)
    assert model.default_label_embeddings is not None
    assert len(model.default_labels) == len(model.default_label_embeddings) > 1000


def test_files_downloaded_into_the_models_folder_are_registered_where_they_lie(
    xenova_clip: XenovaClip, registered: Path, tmp_path: Path
) -> None:
    layout = HomeLayout(tmp_path)
    fetched = clip_dir(layout) / "downloaded"
    for name in [*xenova_files(), *OPTIONAL_FILES]:  # what a download fetches, no more
        (fetched / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(xenova_clip.folder / name, fetched / name)
    assert register_clip_folder(layout, fetched, "downloaded") == fetched
    manifest = ClipManifest.read(fetched)
    assert manifest.image_tower == "onnx/vision_model.onnx"  # relative: the folder can move
    images = real_images()[:2]
    ours, theirs = (
        ClipModel(fetched).embed_images(images),
        ClipModel(registered).embed_images(images),
    )
    assert cosines(ours, theirs).min() >= 0.9999


def test_a_changed_file_is_caught(xenova_clip: XenovaClip, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(xenova_clip.folder, tmp_path / "copy"))
    folder = register_clip_folder(HomeLayout(tmp_path / "home"), copy, "hub")
    tokenizer = copy / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace("<|endoftext|>", "<|endoftexT|>"))
    assert verify_clip_files(folder) == [str(tokenizer)]
    with (copy / "onnx/vision_model.onnx").open("r+b") as tower:
        tower.truncate(1000)
    with pytest.raises(InvalidClipModelError, match="changed since it was registered"):
        ClipModel(folder)


def test_the_quantized_variant_agrees_with_fp32(
    xenova_clip: XenovaClip, registered: Path, tmp_path: Path
) -> None:
    fp32 = ClipModel(registered)
    layout = HomeLayout(tmp_path)
    folder = register_clip_folder(layout, xenova_clip.folder, "int8", variant="quantized")
    quantized = ClipModel(folder)
    assert ClipManifest.read(folder).image_tower.endswith("vision_model_quantized.onnx")
    images = real_images()
    assert cosines(quantized.embed_images(images), fp32.embed_images(images)).min() >= 0.99
    assert cosines(quantized.embed_texts(TEXTS), fp32.embed_texts(TEXTS)).min() >= 0.99


def test_an_incomplete_or_unknown_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "onnx").mkdir()
    with pytest.raises(UnsupportedLayoutError, match="lacks onnx/vision_model.onnx"):
        register_clip_folder(HomeLayout(tmp_path / "home"), tmp_path, "broken")
    with pytest.raises(UnsupportedLayoutError, match="do_normalize"):
        preprocess_from({"do_normalize": False})
    squash = preprocess_from({"size": {"height": 64, "width": 64}, "do_center_crop": False})
    assert (squash.resize_mode, squash.size) == ("squash", 64)
    # The older form of Xenova/clip-vit-base-patch32's own file: bare numbers.
    older = preprocess_from({"crop_size": 224, "size": 224, "resample": 3})
    assert (older.resize_mode, older.size, older.resize, older.interpolation) == (
        "shortest",
        224,
        224,
        "bicubic",
    )


def test_a_hugging_face_cache_snapshot_is_named_after_its_repo(tmp_path: Path) -> None:
    snapshot = tmp_path / "models--Xenova--clip-vit-base-patch32" / "snapshots" / "0a1b2c"
    snapshot.mkdir(parents=True)
    assert default_name(snapshot) == "clip-vit-base-patch32"
    assert default_name(tmp_path / "clip-b32") == "clip-b32"


def test_cli_adds_selects_and_reindexes(
    xenova_clip: XenovaClip, tiny_clip: TinyClip, hearth_home: Path, tmp_path: Path
) -> None:
    tiny_clip.install(hearth_home, as_default=True)
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for index, image in enumerate(real_images()):
        image.save(pictures / f"{index}.png")
    assert run_hearth("images", "index", str(pictures)).code == 0
    gone = tmp_path / "gone"
    shutil.copytree(pictures, gone)
    assert run_hearth("images", "index", str(gone)).code == 0
    shutil.rmtree(gone)

    added = run_hearth("models", "add-clip", str(xenova_clip.folder), "--name", "hub", "--use")
    assert added.code == 0, added.err
    assert Settings.load(HomeLayout(hearth_home)).image_model == "hub"
    models = json.loads(run_hearth("images", "models", "--json").out)
    assert [m["name"] for m in models if m["current"]] == ["hub"]
    assert {"hub", "tiny-clip"} <= {m["name"] for m in models}
    assert str(pictures.resolve()) in added.out and "hearth images index --reindex" in added.out
    refused = run_hearth("images", "search", "a dog")
    assert refused.code == 1 and "indexed with another model" in refused.err

    reindexed = run_hearth("images", "index", "--reindex")
    assert reindexed.code == 0 and f"skipped {gone.resolve()}" in reindexed.err
    found = run_hearth("images", "search", "a dog", "--all", "--json")  # --all: no cut-off
    assert found.code == 0 and str(gone.resolve()) in found.err  # named as not searched
    assert len(json.loads(found.out)) == 4
    listed = {f["folder"]: f for f in json.loads(run_hearth("images", "folders", "--json").out)}
    assert listed.pop(str(gone.resolve()))["needs_reindex"]
    assert list(listed.values()) == [
        {
            "folder": str(pictures.resolve()),
            "models": ["tiny-clip", "hub"],
            "needs_reindex": False,
        }
    ]
    assert run_hearth("models", "verify-clip", "hub").code == 0


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, xenova_clip: XenovaClip
) -> Iterator[Any]:
    layout = prepare_home(tmp_path_factory.mktemp("home"), tiny_gguf, image_model="hub")
    register_clip_folder(layout, xenova_clip.folder, "hub")
    running = serve_real(layout)
    yield running
    running.stop()


def test_search_through_the_backend_ranks_as_transformers_does(
    served: Any, xenova_clip: XenovaClip, tmp_path: Path
) -> None:
    images = real_images()
    for index, image in enumerate(images):
        image.save(tmp_path / f"{index}.png")
    # The saved PNGs, read back, are what the backend embeds.
    saved = [Image.open(tmp_path / f"{index}.png").convert("RGB") for index in range(len(images))]
    reference = reference_image_features(xenova_clip, saved, fast=False)
    query = reference_text_features(xenova_clip, ["a dog on a beach"])[0]
    expected = [f"{i}.png" for i in np.argsort(-cosines(reference, query[None, :]))]
    with served.http() as http:
        indexed = http.post("/hearth/images/index", json={"folder": str(tmp_path)})
        assert indexed.status_code == 200 and indexed.json()["embedded"] == len(images)
        every = {"q": "a dog on a beach", "cutoff": False}  # the whole ranking, not cut off
        hits = http.get("/hearth/images/search", params=every).json()
        folders = http.get("/hearth/images/folders").json()
        models = http.get("/hearth/images/models").json()
    assert [Path(hit["path"]).name for hit in hits] == expected
    assert folders == [
        {"folder": str(tmp_path.resolve()), "models": ["hub"], "needs_reindex": False}
    ]
    (hub,) = [model for model in models if model["current"]]
    assert (hub["name"], hub["source"]) == ("hub", str(xenova_clip.folder.resolve()))


def hub_repo(folder: Path, **lies: str) -> list[HubFileSpec]:
    """The repo as the Hub holds it: what Hearth reads, the other variants it must not fetch,
    and a model card; `lies` gives a file a sha256 its bytes do not have."""
    needed = [*xenova_files(), *OPTIONAL_FILES]
    quantized = ["onnx/vision_model_quantized.onnx", "onnx/text_model_quantized.onnx"]
    specs = [HubFileSpec(n, (folder / n).read_bytes(), lies.get(n)) for n in needed + quantized]
    return specs + [HubFileSpec("onnx/model_fp16.onnx", b"x" * 1000), HubFileSpec("README.md", b"")]


def test_cli_downloads_only_what_it_needs_resumes_verifies_and_registers(
    xenova_clip: XenovaClip,
    registered: Path,
    hearth_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    repo = {"Xenova/clip-tiny": hub_repo(xenova_clip.folder)}
    with HubMock(repo, cut_after={"onnx/text_model.onnx": 200_000}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        added = run_hearth("models", "add-clip", "Xenova/clip-tiny", "--use")
    assert added.code == 0, added.err
    fetched = {request.path.split("/resolve/")[1].split("/", 1)[1] for request in hub.file_gets()}
    assert fetched == {*xenova_files(), *OPTIONAL_FILES}
    assert "Range" in hub.file_gets("onnx/text_model.onnx")[-1].headers  # the cut one resumed
    layout = HomeLayout(hearth_home)
    folder = clip_dir(layout) / "clip-tiny"
    assert ClipManifest.read(folder).image_tower == "onnx/vision_model.onnx"
    assert Settings.load(layout).image_model == "clip-tiny"
    images = real_images()
    ours, theirs = (
        ClipModel(folder).embed_images(images),
        ClipModel(registered).embed_images(images),
    )
    assert cosines(ours, theirs).min() >= 0.9999


def test_a_download_with_wrong_bytes_registers_nothing(
    xenova_clip: XenovaClip, hearth_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    lying = hub_repo(xenova_clip.folder, **{"tokenizer.json": "0" * 64})
    with HubMock({"Xenova/clip-vit-base-patch32": lying}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        refused = run_hearth("models", "add-clip", "clip-vit-base-patch32")  # the catalog's id
        not_clip = run_hearth("models", "add-clip", "Xenova/nothing-here")
    assert refused.code == 1 and "tokenizer.json" in refused.err and "match" in refused.err
    assert "clip-vit-base-patch32" not in clip_models(HomeLayout(hearth_home))
    assert not_clip.code == 1 and "Xenova/nothing-here" in not_clip.err
