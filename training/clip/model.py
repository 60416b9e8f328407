"""CLIP model configurations, built as open_clip `CLIP` modules."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ClipConfig:
    """A small CLIP: an image tower and a causal text transformer.

    The image tower is a ViT of `vision_layers` blocks, or, when `vision_layers` is a tuple
    (blocks per stage), open_clip's ModifiedResNet: convolutions, cheaper per picture on a CPU
    and biased toward local shapes, which suits a dataset of some ten thousand drawings."""

    embed_dim: int = 64
    image_size: int = 64
    patch_size: int = 8
    vision_width: int = 128
    vision_layers: int | tuple[int, ...] = 4
    vision_head_width: int = 32
    vocab_size: int = 4096
    context_length: int = 32
    text_width: int = 128
    text_layers: int = 4
    text_heads: int = 4
    mean: tuple[float, ...] = field(default=OPENAI_MEAN)
    std: tuple[float, ...] = field(default=OPENAI_STD)

    @classmethod
    def from_file(cls, path: Path) -> ClipConfig:
        values: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(**tuples(values))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tuples(values: dict[str, Any]) -> dict[str, Any]:
    """A config's lists (from YAML or a checkpoint) as the tuples the frozen dataclass holds."""
    return {key: tuple(v) if isinstance(v, list) else v for key, v in values.items()}


def build_clip(config: ClipConfig, end_token_id: int) -> Any:
    """An open_clip CLIP whose text tower pools at our tokenizer's end token."""
    import open_clip
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    vision = CLIPVisionCfg(
        layers=config.vision_layers,
        width=config.vision_width,
        head_width=config.vision_head_width,
        patch_size=config.patch_size,
        image_size=config.image_size,
    )
    text = CLIPTextCfg(
        context_length=config.context_length,
        vocab_size=config.vocab_size,
        width=config.text_width,
        heads=config.text_heads,
        layers=config.text_layers,
        pool_type="eos",
        eos_id=end_token_id,
    )
    return open_clip.CLIP(embed_dim=config.embed_dim, vision_cfg=vision, text_cfg=text)
