"""Cross-style zero-shot evaluation of a CLIP: top-1 and top-5 on each test set of the split.

Each set is an N-way choice among the names of the concepts in it (prompt-ensembled with the
runtime's TEMPLATES), each picture drawn on white. Works on a runtime folder (ONNX, through the
app's own ClipModel) or on a training checkpoint (torch), so both generations compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from training.clip.data import Example
from training.clip.split import StyleSplit

BATCH = 64


def truth_ranks(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """0-based rank of each row's true class; a tie counts against the truth."""
    true_scores = scores[np.arange(len(truth)), truth][:, None]
    return (scores > true_scores).sum(axis=1) + (scores == true_scores).sum(axis=1) - 1


def top_k_accuracy(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float((truth_ranks(scores, truth) < k).mean())


@dataclass(frozen=True)
class SetScore:
    name: str
    images: int
    classes: int
    top1: float
    top5: float
    by_style: dict[str, tuple[int, float, float]] = field(default_factory=dict)

    def line(self) -> str:
        chance1, chance5 = 1 / self.classes, min(1.0, 5 / self.classes)
        return (
            f"{self.name}: {self.classes} concepts, {self.images} images; "
            f"top-1 {self.top1:.3f} ({self.top1 / chance1:.1f}x chance {chance1:.4f}), "
            f"top-5 {self.top5:.3f} ({self.top5 / chance5:.1f}x chance {chance5:.4f})"
        )

    def style_lines(self) -> list[str]:
        return [
            f"  {style}: {count} images, top-1 {top1:.3f}, top-5 {top5:.3f}"
            for style, (count, top1, top5) in self.by_style.items()
        ]


class Embedder(Protocol):
    def images(self, images: Sequence[Image.Image]) -> np.ndarray: ...
    def labels(self, names: Sequence[str]) -> np.ndarray: ...


def on_white(image: Image.Image) -> Image.Image:
    item = image.convert("RGBA")
    canvas = Image.new("RGB", (item.width + 8, item.height + 8), "white")
    canvas.paste(item, (4, 4), item)
    return canvas


class OnnxEmbedder:
    """A runtime folder, through the app's own preprocessing and ONNX towers."""

    def __init__(self, folder: Path, threads: int = 1) -> None:
        from backend.images.clip import ClipModel

        self.model = ClipModel(folder, threads=threads)

    def images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.model.embed_images([on_white(image) for image in images])

    def labels(self, names: Sequence[str]) -> np.ndarray:
        from backend.images.labels import label_embeddings

        return label_embeddings(self.model, names)


class TorchEmbedder:
    """A training checkpoint, preprocessed as training's own zero-shot eval does."""

    def __init__(self, checkpoint: Path, threads: int = 1) -> None:
        import torch

        from training.clip.checkpoint import load_checkpoint

        torch.set_num_threads(threads)

        self.clip, self.tokenizer, self.config, _ = load_checkpoint(checkpoint)

    def images(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        from training.clip.train import _on_white, _to_tensor

        pixels = _to_tensor(
            [_on_white(i.convert("RGBA"), self.config.image_size) for i in images], self.config
        )
        with torch.no_grad():
            return _normalise(self.clip.encode_image(pixels).numpy())

    def labels(self, names: Sequence[str]) -> np.ndarray:
        import torch

        from backend.images.labels import TEMPLATES

        prompts = [t.format(name) for name in names for t in TEMPLATES]
        tokens = torch.tensor([e.ids for e in self.tokenizer.encode_batch(prompts)])
        with torch.no_grad():
            text = _normalise(self.clip.encode_text(tokens).numpy())
        return _normalise(text.reshape(len(names), len(TEMPLATES), -1).mean(axis=1))


def _normalise(vectors: np.ndarray) -> np.ndarray:
    normalised: np.ndarray = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    return normalised


def load_embedder(model: Path, threads: int = 1) -> Embedder:
    if (model / "manifest.json").is_file():
        return OnnxEmbedder(model, threads)
    if model.is_file():
        return TorchEmbedder(model, threads)
    raise FileNotFoundError(f"{model} is neither a runtime folder nor a checkpoint file")


def score_set(embedder: Embedder, folder: Path, name: str, examples: Sequence[Example]) -> SetScore:
    """All of `examples` as one N-way choice; each style's share is scored on the same choice."""
    names = sorted({e.concept for e in examples})
    texts = embedder.labels(names)
    images = np.concatenate(
        [
            embedder.images([Image.open(folder / e.image) for e in examples[i : i + BATCH]])
            for i in range(0, len(examples), BATCH)
        ]
    )
    index = {concept: i for i, concept in enumerate(names)}
    ranks = truth_ranks(images @ texts.T, np.array([index[e.concept] for e in examples]))
    sources = np.array([e.source for e in examples])
    by_style = {
        style: (int((sources == style).sum()), *_hits(ranks[sources == style]))
        for style in sorted(set(sources))
    }
    return SetScore(name, len(examples), len(names), *_hits(ranks), by_style)


def _hits(ranks: np.ndarray) -> tuple[float, float]:
    return float((ranks < 1).mean()), float((ranks < 5).mean())


def evaluate_styles(embedder: Embedder, folder: Path, split: StyleSplit) -> list[SetScore]:
    return [
        score_set(embedder, folder, name, examples)
        for name, examples in split.test_sets().items()
        if examples
    ]
