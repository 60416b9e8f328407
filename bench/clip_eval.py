"""Zero-shot accuracy of the shipped hearth-clip-tiny, through the app's own ONNX runtime.

Images: the held-out emoji concepts (never in training, nor in its tokenizer's corpus), each
drawn on white; the candidates are all held-out concept names. Prints top-1 and top-5 against
the number of classes and chance.

    .venv/bin/python -m training.clip prepare-data data/clip     # once: builds the dataset
    .venv/bin/python bench/clip_eval.py [--dataset DIR] [--model models/hearth-clip-tiny]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from backend.images.clip import ClipModel
from backend.images.labels import label_embeddings
from training.clip.data import load_dataset
from training.clip.train import ClipTrainConfig, is_held_out

RECIPE = Path("models/recipes/hearth-clip-tiny.yaml")


def on_white(path: Path) -> Image.Image:
    item = Image.open(path).convert("RGBA")
    canvas = Image.new("RGB", (item.width + 8, item.height + 8), "white")
    canvas.paste(item, (4, 4), item)
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("data/clip/dataset"))
    parser.add_argument("--model", type=Path, default=Path("models/hearth-clip-tiny"))
    args = parser.parse_args()
    holdout = ClipTrainConfig.from_file(RECIPE).holdout_percent
    held = [e for e in load_dataset(args.dataset) if is_held_out(e, holdout)]
    names = sorted({e.concept for e in held})
    model = ClipModel(args.model)
    texts = label_embeddings(model, names)
    images = np.concatenate(
        [
            model.embed_images([on_white(args.dataset / e.image) for e in held[i : i + 64]])
            for i in range(0, len(held), 64)
        ]
    )
    ranks = np.argsort(-(images @ texts.T), axis=1)
    truth = np.array([names.index(e.concept) for e in held])
    top1 = float((ranks[:, 0] == truth).mean())
    top5 = float((ranks[:, :5] == truth[:, None]).any(axis=1).mean())
    chance = 1 / len(names)
    print(f"held-out concepts: {len(names)} classes, {len(held)} images (never seen in training)")
    print(f"zero-shot top-1 {top1:.3f} ({top1 / chance:.0f}x chance {chance:.4f})")
    print(f"zero-shot top-5 {top5:.3f} ({top5 / (5 * chance):.0f}x chance {5 * chance:.4f})")


if __name__ == "__main__":
    main()
