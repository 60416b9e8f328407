"""Image models from the Hub's ONNX exports of CLIP, registered for Hearth's one CLIP runtime.

The `Xenova/clip-vit-base-patch32` family (transformers.js's layout) holds
`onnx/vision_model.onnx` (`pixel_values` in, `image_embeds` out), `onnx/text_model.onnx`
(`input_ids`, sometimes `attention_mask`, in; `text_embeds` out), optionally their
`*_quantized.onnx` variants, `tokenizer.json`, `config.json` and `preprocessor_config.json`.
Registering such a folder writes a Hearth manifest (HEARTH_HOME/models/clip/NAME/manifest.json)
that points at those files where they lie, records their sha256 and sizes, and translates
transformers' preprocessing into Hearth's; backend/images/clip.py then runs it like its own.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Literal

from backend.errors import InvalidRequestError
from backend.images.clip import ClipManifest, FileRecord, InvalidClipModelError, Preprocess
from backend.images.registry import clip_dir
from backend.models.registry import check_model_name
from backend.paths import HomeLayout, repo_models_dir
from backend.settings import write_atomically

Variant = Literal["fp32", "quantized"]
TOWER_FILES = {
    "fp32": ("onnx/vision_model.onnx", "onnx/text_model.onnx"),
    "quantized": ("onnx/vision_model_quantized.onnx", "onnx/text_model_quantized.onnx"),
}
HUB_FILES = ("tokenizer.json", "config.json", "preprocessor_config.json")
OPTIONAL_FILES = ("tokenizer_config.json",)  # names the padding token where present
RESAMPLE = {2: "bilinear", 3: "bicubic"}  # PIL's numbers, as transformers stores them
# config.json keeps only the initial logit scale (log 1/0.07); trained CLIPs (OpenAI's,
# LAION's) end at the clamp, 100. It only sharpens label probabilities, never search order.
TRAINED_LOGIT_SCALE = 100.0
DEFAULT_VOCABULARY = "hearth-clip-tiny"  # whose labels.txt a registered model labels with
CHUNK = 1 << 20


class UnsupportedLayoutError(InvalidClipModelError):
    """The folder is not an ONNX CLIP export Hearth knows how to run."""

    code = "unsupported_image_model"


def xenova_files(variant: Variant = "fp32") -> list[str]:
    """The files Hearth needs from a transformers.js CLIP repo, by their paths in it: what a
    download fetches (with OPTIONAL_FILES where the repo has them), not the whole repo, whose
    other variants (fp16, int8, q4, the joint model.onnx) come to gigabytes."""
    return [*TOWER_FILES[variant], *HUB_FILES]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UnsupportedLayoutError(f"cannot read {path}: {exc}") from exc
    if not isinstance(value, dict):
        raise UnsupportedLayoutError(f"{path} is not a JSON object")
    return value


def _side(value: Any, what: str) -> int:
    """A square side from transformers' forms: 224, {"shortest_edge": 224} or a square
    {"height": 224, "width": 224}."""
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        if "shortest_edge" in value:
            return int(value["shortest_edge"])
        if value.get("height") == value.get("width") and isinstance(value.get("height"), int):
            return int(value["height"])
    raise UnsupportedLayoutError(f"preprocessor_config.json: unsupported {what} {value!r}")


def preprocess_from(config: dict[str, Any]) -> Preprocess:
    """transformers' CLIPImageProcessor settings as Hearth's Preprocess: resize the shortest
    side, centre-crop a square, scale to [0, 1], normalise (or squash to a square, uncropped)."""
    unsupported = [
        key for key in ("do_resize", "do_rescale", "do_normalize") if not config.get(key, True)
    ]
    if abs(float(config.get("rescale_factor", 1 / 255)) - 1 / 255) > 1e-9:
        unsupported.append("rescale_factor")
    resample = RESAMPLE.get(int(config.get("resample", 3)))
    if unsupported or resample is None:
        named = ", ".join(unsupported) or f"resample {config.get('resample')}"
        raise UnsupportedLayoutError(f"preprocessor_config.json: unsupported {named}")
    size = config.get("size", 224)
    cropped = config.get("do_center_crop", True)
    squash = isinstance(size, dict) and "shortest_edge" not in size
    crop = _side(config.get("crop_size", size), "crop_size") if cropped else _side(size, "size")
    return Preprocess(
        size=crop,
        resize=None if squash else _side(size, "size"),
        resize_mode="squash" if squash else "shortest",
        interpolation=resample,
        mean=tuple(config.get("image_mean", (0.48145466, 0.4578275, 0.40821073))),
        std=tuple(config.get("image_std", (0.26862954, 0.26130258, 0.27577711))),
    )


def _pad_token(folder: Path) -> str:
    """The tokenizer's padding token: tokenizer_config.json's, else CLIP's end of text."""
    config_path = folder / "tokenizer_config.json"
    pad: Any = _read_json(config_path).get("pad_token") if config_path.is_file() else None
    if isinstance(pad, dict):  # older files: {"content": "<|endoftext|>", ...}
        pad = pad.get("content")
    return pad if isinstance(pad, str) else "<|endoftext|>"


def file_record(path: Path) -> FileRecord:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return FileRecord(sha256=digest.hexdigest(), size=path.stat().st_size)


def xenova_manifest(
    source: Path, name: str, variant: Variant = "fp32", relative_to: Path | None = None
) -> ClipManifest:
    """The Hearth manifest for a transformers.js CLIP folder; its paths are relative to
    `relative_to` where the files lie inside it, else absolute."""
    source = source.resolve()
    missing = [f for f in xenova_files(variant) if not (source / f).is_file()]
    if missing:
        raise UnsupportedLayoutError(
            f"{source} is not a transformers.js CLIP export (like Xenova/clip-vit-base-patch32):"
            f" it lacks {', '.join(missing)}"
        )
    config = _read_json(source / "config.json")
    text_config = config.get("text_config") or {}
    image_tower, text_tower = TOWER_FILES[variant]

    def where(file: str) -> str:
        inside = relative_to is not None and source == relative_to.resolve()
        return file if inside else str(source / file)

    used = [image_tower, text_tower, "tokenizer.json"]
    return ClipManifest(
        name=name,
        image_tower=where(image_tower),
        text_tower=where(text_tower),
        tokenizer=where("tokenizer.json"),
        context_length=int(text_config.get("max_position_embeddings", 77)),
        logit_scale=TRAINED_LOGIT_SCALE,
        preprocess=preprocess_from(_read_json(source / "preprocessor_config.json")),
        image_input="pixel_values",
        image_output="image_embeds",
        text_input="input_ids",
        text_output="text_embeds",
        pad_token=_pad_token(source),
        source=str(source),
        files={where(file): file_record(source / file) for file in used},
    )


def verify_clip_files(folder: Path) -> list[str]:
    """The recorded files whose sha256 no longer matches; empty when all do."""
    manifest = ClipManifest.read(folder)
    return [
        name
        for name, record in manifest.files.items()
        if file_record(folder / name).sha256 != record.sha256
    ]


class ImageModelExistsError(InvalidRequestError):
    code = "image_model_exists"


def register_clip_folder(
    layout: HomeLayout, folder: Path, name: str, *, variant: Variant = "fp32"
) -> Path:
    """Register a transformers.js CLIP folder as the image model `name`; returns the folder
    holding its manifest (`folder` itself where a download put the files there already).

    The model labels with the shipped default vocabulary, embedded once here (a minute for a
    ViT-B model on a laptop), so that labelling an attached image stays instant. The manifest
    is written last: a model half-registered is never listed.
    """
    check_model_name(name)  # it becomes a folder name
    out = clip_dir(layout.ensure()) / name
    if (out / "manifest.json").exists():
        raise ImageModelExistsError(f"an image model named '{name}' exists; choose another name")
    manifest = xenova_manifest(folder, name, variant, relative_to=out)
    out.mkdir(parents=True, exist_ok=True)
    vocabulary = repo_models_dir() / DEFAULT_VOCABULARY / "labels.txt"
    if vocabulary.is_file():
        manifest = _with_label_embeddings(out, manifest, vocabulary)
    write_atomically(out / "manifest.json", manifest.model_dump_json(indent=2, exclude_none=True))
    return out


def _with_label_embeddings(out: Path, manifest: ClipManifest, vocabulary: Path) -> ClipManifest:
    import numpy as np

    from backend.images.clip import ClipModel
    from backend.images.labels import label_embeddings

    shutil.copyfile(vocabulary, out / "labels.txt")
    manifest = manifest.model_copy(update={"labels": "labels.txt"})
    model = ClipModel(out, manifest=manifest)
    np.save(out / "label_embeddings.npy", label_embeddings(model, model.default_labels))
    return manifest.model_copy(update={"label_embeddings": "label_embeddings.npy"})
