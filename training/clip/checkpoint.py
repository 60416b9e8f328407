"""From a hearth-clip-tiny training checkpoint to the runtime folder, with its training curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from training.clip.export import export_clip
from training.clip.model import ClipConfig, build_clip, tuples
from training.clip.tokenizer import END


def load_checkpoint(path: Path) -> tuple[Any, Tokenizer, ClipConfig, dict[str, Any]]:
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    config = ClipConfig(**tuples(dict(checkpoint["model"])))
    tokenizer = Tokenizer.from_str(checkpoint["tokenizer"])
    clip = build_clip(config, end_token_id=tokenizer.token_to_id(END))
    clip.load_state_dict(checkpoint["state_dict"])
    return clip.eval(), tokenizer, config, checkpoint


def plot_history(history: dict[str, Any], path: Path) -> Path:
    from training.plots import saved_figure

    with saved_figure(path, dpi=110, ncols=2, figsize=(10, 4)) as (_, (loss, accuracy)):
        loss.plot(history["epoch"], history["loss"])
        loss.set(xlabel="epoch", ylabel="contrastive loss", title="training loss")
        accuracy.plot(history["epoch"], history["top1"], label="top-1")
        accuracy.plot(history["epoch"], history["top5"], label="top-5")
        chance, classes = 1 / history["classes"], history["classes"]
        accuracy.axhline(chance, color="grey", linestyle=":", label=f"chance (1/{classes})")
        accuracy.set(xlabel="epoch", ylabel="accuracy", title="zero-shot, held-out emoji concepts")
        accuracy.legend()
    return path


def export_checkpoint(path: Path, out: Path, name: str) -> Path:
    clip, tokenizer, config, checkpoint = load_checkpoint(path)
    folder = export_clip(
        clip,
        tokenizer,
        out,
        name=name,
        image_size=config.image_size,
        mean=config.mean,
        std=config.std,
        labels=checkpoint["labels"],
    )
    plot_history(checkpoint["history"], out / "training_curve.png")
    return folder
