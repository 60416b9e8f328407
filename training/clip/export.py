"""Exporting a CLIP to Hearth's runtime format: one ONNX file per tower, tokenizer, manifest.

The folder holds `image.onnx`, `text.onnx`, `tokenizer.json`, `manifest.json` and optionally
`labels.txt` (the default label vocabulary). backend/images/clip.py loads it without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn

from backend.images.clip import ClipManifest, Preprocess


class _ImageTower(nn.Module):
    def __init__(self, clip: Any) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:  # (B, 3, S, S) -> (B, D)
        return self.clip.encode_image(pixels)


class _TextTower(nn.Module):
    def __init__(self, clip: Any) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, T) int64 -> (B, D)
        return self.clip.encode_text(tokens)


def _export(module: nn.Module, example: torch.Tensor, path: Path, input_name: str) -> None:
    # Output "features" rather than "embedding": the text tower has a weight of that name.
    torch.onnx.export(
        module.eval(),
        (example,),
        str(path),
        input_names=[input_name],
        output_names=["features"],
        dynamic_shapes={input_name: {0: torch.export.Dim("batch", min=1, max=4096)}},
        dynamo=True,
        external_data=False,  # one self-contained file per tower
        verbose=False,
    )


def export_clip(
    clip: Any,
    tokenizer: Tokenizer,
    out_dir: Path,
    *,
    name: str,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    labels: Sequence[str] = (),
    resize_mode: str = "shortest",
) -> Path:
    """Write the runtime folder for `clip` (an open_clip CLIP) and return it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    clip = clip.eval()
    context_length = int(clip.context_length)
    with torch.no_grad():
        # A batch of 2 in the examples keeps the batch dimension dynamic in the graph.
        pixels = torch.zeros(2, 3, image_size, image_size)
        tokens = torch.zeros(2, context_length, dtype=torch.long)
        _export(_ImageTower(clip), pixels, out_dir / "image.onnx", "pixels")
        _export(_TextTower(clip), tokens, out_dir / "text.onnx", "tokens")
    tokenizer.save(str(out_dir / "tokenizer.json"))
    if labels:
        (out_dir / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    manifest = ClipManifest(
        name=name,
        labels="labels.txt" if labels else None,
        context_length=context_length,
        logit_scale=float(clip.logit_scale.exp().item()),
        preprocess=Preprocess.model_validate(
            {
                "size": image_size,
                "resize_mode": resize_mode,
                "interpolation": "bicubic",
                "mean": list(mean),
                "std": list(std),
            }
        ),
    )
    _write_manifest(out_dir, manifest)
    if labels:
        _precompute_label_embeddings(out_dir, manifest)
    return out_dir


def _write_manifest(out_dir: Path, manifest: ClipManifest) -> None:
    (out_dir / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")


def _precompute_label_embeddings(out_dir: Path, manifest: ClipManifest) -> None:
    """Embed the default vocabulary once, with the runtime itself, so labelling is instant."""
    from backend.images.clip import ClipModel
    from backend.images.labels import label_embeddings

    model = ClipModel(out_dir)
    np.save(out_dir / "label_embeddings.npy", label_embeddings(model, model.default_labels))
    _write_manifest(
        out_dir, manifest.model_copy(update={"label_embeddings": "label_embeddings.npy"})
    )
