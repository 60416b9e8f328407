"""A tiny random-weight CLIP in Hearth's runtime format, for tests (a few seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from training.clip.export import export_clip
from training.clip.model import ClipConfig, build_clip
from training.clip.tokenizer import END, train_clip_bpe

CAPTIONS = (
    "a photo of a red car",
    "a photo of a dog on a beach",
    "a drawing of a green tree",
    "a picture of a blue house with a door",
    "an emoji of a smiling face",
    "a yellow sun in the sky",
)
TINY = ClipConfig(
    embed_dim=16,
    image_size=32,
    patch_size=8,
    vision_width=32,
    vision_layers=1,
    vision_head_width=16,
    context_length=16,
    text_width=32,
    text_layers=1,
    text_heads=2,
)


def build_tiny_clip(out_dir: Path, seed: int = 0) -> tuple[Path, Any]:
    """Export a random tiny CLIP to `out_dir`; returns the folder and the torch model."""
    tokenizer = train_clip_bpe(CAPTIONS * 3, vocab_size=320, context_length=TINY.context_length)
    config = ClipConfig(**(TINY.to_dict() | {"vocab_size": tokenizer.get_vocab_size()}))
    torch.manual_seed(seed)
    clip = build_clip(config, end_token_id=tokenizer.token_to_id(END))
    labels = ["car", "dog", "tree", "house", "face", "sun"]
    folder = export_clip(
        clip,
        tokenizer,
        out_dir,
        name="tiny-clip",
        image_size=config.image_size,
        mean=config.mean,
        std=config.std,
        labels=labels,
    )
    return folder, clip.eval()
