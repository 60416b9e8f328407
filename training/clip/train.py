"""Contrastive training of hearth-clip-tiny on augmented emoji and clipart, with zero-shot eval.

Held-out emoji concepts never appear in training (not even in the tokenizer's corpus); zero-shot
accuracy on them, against chance, is the honest measure of what the model learned.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from PIL import Image
from tqdm import tqdm

from backend.images.labels import TEMPLATES
from training.clip.data import Example, load_dataset
from training.clip.model import ClipConfig, build_clip, tuples
from training.clip.split import split_styles
from training.clip.style_aug import augment_style
from training.clip.tokenizer import END, train_clip_bpe

CAPTION_TEMPLATES = ("{}", "an emoji of a {}", "a drawing of a {}", "a picture of {}", "a {}")


@dataclass(frozen=True)
class ClipTrainConfig:
    model: ClipConfig = field(default_factory=ClipConfig)
    epochs: int = 30
    batch_size: int = 256
    lr: float = 5e-4
    weight_decay: float = 0.1
    warmup_steps: int = 200
    holdout_percent: int = 10  # of emoji concepts (of all concepts with a held-out style)
    held_out_style: str = ""  # a whole style kept out of training (training.clip.split)
    image_holdout_percent: int = 15  # of icon pictures in the trained styles, with one
    style_probability: float = 0.0  # of each style-removing augmentation (style_aug)
    seed: int = 0
    workers: int = 0  # DataLoader processes doing the augmentation

    @classmethod
    def from_file(cls, path: Path) -> ClipTrainConfig:
        values: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(model=ClipConfig(**tuples(values.pop("model", {}))), **values)


def is_held_out(example: Example, percent: int) -> bool:
    digest = hashlib.sha256(example.concept.encode()).digest()
    return example.source == "emoji" and digest[0] * 100 // 256 < percent


def _background(size: int, rng: random.Random) -> Image.Image:
    """A plain colour, a gradient or noise: the model must ignore what is behind the object."""
    colour = tuple(rng.randrange(256) for _ in range(3))
    kind = rng.random()
    if kind < 0.5:
        return Image.new("RGB", (size, size), colour)  # type: ignore[arg-type]
    if kind < 0.8:
        ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
        other = np.array([rng.randrange(256) for _ in range(3)], np.float32)
        pixels = np.array(colour, np.float32) * (1 - ramp) + other * ramp
        return Image.fromarray(np.broadcast_to(pixels, (size, size, 3)).astype(np.uint8))
    noise = np.random.default_rng(rng.randrange(1 << 30)).integers(0, 256, (size, size, 3))
    return Image.fromarray(noise.astype(np.uint8))


def _place(
    canvas: Image.Image, item: Image.Image, box: tuple[int, int, int, int], rng: random.Random
) -> None:
    left, top, width, height = box
    scale = rng.uniform(0.55, 1.0) * min(width, height) / max(item.size)
    item = item.resize((max(1, int(item.width * scale)), max(1, int(item.height * scale))))
    item = item.rotate(rng.uniform(-20, 20), expand=True, resample=Image.Resampling.BILINEAR)
    x = left + rng.randrange(max(1, width - item.width + 1))
    y = top + rng.randrange(max(1, height - item.height + 1))
    canvas.paste(item, (x, y), item)


def _caption(example: Example, rng: random.Random) -> str:
    words = example.captions if rng.random() < 0.4 else [example.concept]
    return rng.choice(CAPTION_TEMPLATES).format(rng.choice(words))


class CaptionedImages(torch.utils.data.Dataset[tuple[Image.Image, str]]):
    """Each item is a fresh augmentation: one object, or two side by side with both named."""

    def __init__(
        self,
        folder: Path,
        examples: Sequence[Example],
        size: int,
        seed: int,
        style_probability: float = 0.0,
    ) -> None:
        self.style_probability = style_probability
        self.examples = list(examples)
        self.images = [Image.open(folder / e.image).convert("RGBA") for e in self.examples]
        self.size = size
        self.seed = seed
        self._rng: tuple[int, random.Random] | None = None

    @property
    def rng(self) -> random.Random:
        # One stream per process, so DataLoader workers do not repeat each other's augmentations.
        if self._rng is None or self._rng[0] != os.getpid():
            self._rng = (os.getpid(), random.Random(self.seed * 1_000_003 + os.getpid()))
        return self._rng[1]

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> tuple[Image.Image, str]:
        rng, size = self.rng, self.size
        canvas = _background(size, rng)
        if rng.random() < 0.25:
            other = rng.randrange(len(self.examples))
            _place(canvas, self.images[index], (0, 0, size // 2, size), rng)
            _place(canvas, self.images[other], (size // 2, 0, size // 2, size), rng)
            first, second = self.examples[index].concept, self.examples[other].concept
            return canvas, f"a {first} and a {second}"
        item = augment_style(self.images[index], rng, self.style_probability)
        _place(canvas, item, (0, 0, size, size), rng)
        return canvas, _caption(self.examples[index], rng)


def _to_tensor(images: Sequence[Image.Image], config: ClipConfig) -> torch.Tensor:
    pixels = np.stack([np.asarray(image, np.float32) / 255.0 for image in images])
    pixels = (pixels - np.array(config.mean, np.float32)) / np.array(config.std, np.float32)
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()  # (B, 3, S, S)


def _on_white(image: Image.Image, size: int) -> Image.Image:
    canvas = Image.new("RGB", (size, size), "white")
    item = image.copy()
    item.thumbnail((int(size * 0.9), int(size * 0.9)))
    canvas.paste(item, ((size - item.width) // 2, (size - item.height) // 2), item)
    return canvas


@torch.no_grad()
def zero_shot_accuracy(
    clip: Any, tokenizer: Any, data: CaptionedImages, config: ClipConfig
) -> tuple[float, float]:
    """Top-1 and top-5 accuracy choosing among the held-out concepts' names."""
    clip.eval()
    names = sorted({e.concept for e in data.examples})
    prompts = [t.format(name) for name in names for t in TEMPLATES]
    tokens = torch.tensor([e.ids for e in tokenizer.encode_batch(prompts)])
    text = F.normalize(clip.encode_text(tokens), dim=-1).reshape(len(names), len(TEMPLATES), -1)
    text = F.normalize(text.mean(dim=1), dim=-1)
    images = [_on_white(image, config.image_size) for image in data.images]
    image = F.normalize(clip.encode_image(_to_tensor(images, config)), dim=-1)
    ranks = (image @ text.T).argsort(dim=-1, descending=True)
    truth = torch.tensor([names.index(e.concept) for e in data.examples])
    top1 = (ranks[:, 0] == truth).float().mean().item()
    top5 = (ranks[:, :5] == truth[:, None]).any(dim=-1).float().mean().item()
    clip.train()
    return top1, top5


def _split(
    examples: Sequence[Example], config: ClipTrainConfig
) -> tuple[list[Example], list[Example]]:
    """Training examples, and those evaluated each epoch: held-out emoji concepts, or with a
    held-out style, that style's pictures (the cross-style split of training.clip.split)."""
    if config.held_out_style:
        split = split_styles(
            examples, config.held_out_style, config.holdout_percent, config.image_holdout_percent
        )
        return split.train, split.held_out_style
    train = [e for e in examples if not is_held_out(e, config.holdout_percent)]
    return train, [e for e in examples if is_held_out(e, config.holdout_percent)]


def train_clip(dataset_folder: Path, config: ClipTrainConfig, out: Path) -> dict[str, Any]:
    """Train, evaluate every epoch, save `out/checkpoint.pt`; return the history."""
    torch.manual_seed(config.seed)
    examples = load_dataset(dataset_folder)
    train, held = _split(examples, config)
    corpus = [t.format(w) for e in train for w in e.captions for t in CAPTION_TEMPLATES[:2]]
    tokenizer = train_clip_bpe(corpus, config.model.vocab_size, config.model.context_length)
    model_config = ClipConfig(**(asdict(config.model) | {"vocab_size": tokenizer.get_vocab_size()}))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    clip = build_clip(model_config, end_token_id=tokenizer.token_to_id(END)).to(device)
    train_data = CaptionedImages(
        dataset_folder, train, model_config.image_size, config.seed, config.style_probability
    )
    held_data = CaptionedImages(dataset_folder, held, model_config.image_size, config.seed)
    loader = torch.utils.data.DataLoader(
        train_data,
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=True,
        collate_fn=list,
        num_workers=config.workers,
        persistent_workers=config.workers > 0,
    )
    optimizer = torch.optim.AdamW(clip.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    total = config.epochs * len(loader)

    def schedule(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        return 0.5 * (
            1
            + math.cos(math.pi * (step - config.warmup_steps) / max(1, total - config.warmup_steps))
        )

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    history: dict[str, Any] = {
        "epoch": [],
        "loss": [],
        "top1": [],
        "top5": [],
        "classes": len({e.concept for e in held}),
    }
    for epoch in range(config.epochs):
        losses = []
        for batch in tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False):
            images, captions = zip(*batch, strict=True)
            pixels = _to_tensor(images, model_config).to(device)
            tokens = torch.tensor(
                [e.ids for e in tokenizer.encode_batch(list(captions))], device=device
            )
            image = F.normalize(clip.encode_image(pixels), dim=-1)
            text = F.normalize(clip.encode_text(tokens), dim=-1)
            logits = clip.logit_scale.exp().clamp(max=100) * image @ text.T  # (B, B)
            labels = torch.arange(len(batch), device=device)
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(clip.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        top1, top5 = zero_shot_accuracy(clip.cpu(), tokenizer, held_data, model_config)
        clip.to(device)
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "top1": top1, "top5": top5}
        for key, value in record.items():
            history[key].append(value)
        print(f"epoch {epoch + 1}: loss {record['loss']:.3f} top1 {top1:.3f} top5 {top5:.3f}")
        save_checkpoint(out / "checkpoint.pt", clip, model_config, tokenizer, examples, history)
    return history


def save_checkpoint(
    path: Path,
    clip: Any,
    config: ClipConfig,
    tokenizer: Any,
    examples: Sequence[Example],
    history: dict[str, Any],
) -> None:
    """Everything export needs; written after every epoch so an interrupted run keeps its work."""
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "state_dict": {key: value.detach().cpu() for key, value in clip.state_dict().items()},
        "model": asdict(config),
        "tokenizer": tokenizer.to_str(),
        "labels": sorted({e.concept for e in examples if e.source == "emoji"}),
        "history": history,
    }
    torch.save(checkpoint, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)
