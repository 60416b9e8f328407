"""A tiny random `transformers` CLIP exported the way Xenova's ONNX repos are laid out, for tests.

`Xenova/clip-vit-base-patch32` and its family (transformers.js) hold `onnx/vision_model.onnx`
(input `pixel_values`, outputs `image_embeds` and `last_hidden_state`), `onnx/text_model.onnx`
(`input_ids` and `attention_mask` in, `text_embeds` and `last_hidden_state` out),
`tokenizer.json`, `tokenizer_config.json`, `config.json` and `preprocessor_config.json`. This
builds such a folder offline from a random model a few layers deep, so that Hearth's runtime can
be checked against the torch reference without downloading the real one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from torch import nn

from training.clip.model import OPENAI_MEAN, OPENAI_STD
from training.clip.testing import CAPTIONS

START, END = "<|startoftext|>", "<|endoftext|>"
CONTEXT = 16
IMAGE_SIZE = 32
RESIZE = 40  # shortest side before the centre crop, larger than the crop as in real repos


def train_tokenizer() -> Tokenizer:
    """A tiny byte-level BPE with CLIP's specials: start first, end the highest id; no padding
    or truncation in the file, as in the Hub's CLIP tokenizers (the runtime adds them)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=[START],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CAPTIONS * 3, trainer=trainer)
    tokenizer.add_special_tokens([END])
    start, end = tokenizer.token_to_id(START), tokenizer.token_to_id(END)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{START} $A {END}", special_tokens=[(START, start), (END, end)]
    )
    return tokenizer


def tiny_config(tokenizer: Tokenizer) -> Any:
    from transformers import CLIPConfig

    end = tokenizer.token_to_id(END)
    text = {
        "vocab_size": tokenizer.get_vocab_size(),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": CONTEXT,
        "bos_token_id": tokenizer.token_to_id(START),
        "eos_token_id": end,
        "pad_token_id": end,
    }
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": IMAGE_SIZE,
        "patch_size": 8,
    }
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)


class _Vision(nn.Module):
    def __init__(self, clip: Any) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.clip.vision_model(pixel_values=pixel_values)
        return self.clip.visual_projection(out.pooler_output), out.last_hidden_state


class _Text(nn.Module):
    def __init__(self, clip: Any) -> None:
        super().__init__()
        self.clip = clip

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.clip.text_model(input_ids=input_ids, attention_mask=attention_mask)
        return self.clip.text_projection(out.pooler_output), out.last_hidden_state


def _export(
    module: nn.Module,
    inputs: dict[str, torch.Tensor],
    outputs: list[str],
    path: Path,
    sequence: bool = False,
) -> None:
    """Batch dynamic, and with `sequence` the text's length too, as in Xenova's exports."""
    axes: dict[int, Any] = {0: torch.export.Dim("batch", min=1, max=1024)}
    if sequence:
        axes[1] = torch.export.Dim("sequence", min=2, max=CONTEXT)
    torch.onnx.export(
        module.eval(),
        tuple(inputs.values()),
        str(path),
        input_names=list(inputs),
        output_names=outputs,
        dynamic_shapes={name: axes for name in inputs},
        dynamo=True,
        external_data=False,
        verbose=False,
    )


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")


def _preprocessor_config() -> dict[str, Any]:
    return {
        "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": list(OPENAI_MEAN),
        "image_std": list(OPENAI_STD),
        "image_processor_type": "CLIPImageProcessor",
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": RESIZE},
    }


def build_xenova_clip(out_dir: Path, seed: int = 0, quantized: bool = False) -> tuple[Path, Any]:
    """Write a Xenova-layout folder for a random tiny CLIPModel; returns it and the model.

    With `quantized`, `onnx/*_quantized.onnx` (ONNX Runtime's dynamic int8) sit beside them.
    """
    from transformers import CLIPModel

    tokenizer = train_tokenizer()
    config = tiny_config(tokenizer)
    torch.manual_seed(seed)
    clip = CLIPModel(config).eval()
    onnx_dir = out_dir / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    pixels = torch.zeros(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    ids = torch.zeros(2, CONTEXT, dtype=torch.long)
    with torch.no_grad():
        _export(
            _Vision(clip),
            {"pixel_values": pixels},
            ["image_embeds", "last_hidden_state"],
            onnx_dir / "vision_model.onnx",
        )
        _export(
            _Text(clip),
            {"input_ids": ids, "attention_mask": torch.ones_like(ids)},
            ["text_embeds", "last_hidden_state"],
            onnx_dir / "text_model.onnx",
            sequence=True,
        )
    if quantized:
        from onnxruntime.quantization import quantize_dynamic

        for tower in ("vision_model", "text_model"):
            quantize_dynamic(onnx_dir / f"{tower}.onnx", onnx_dir / f"{tower}_quantized.onnx")
    tokenizer.save(str(out_dir / "tokenizer.json"))
    _write_json(
        out_dir / "tokenizer_config.json",
        {"bos_token": START, "eos_token": END, "pad_token": END, "model_max_length": CONTEXT},
    )
    _write_json(out_dir / "config.json", config.to_dict())
    _write_json(out_dir / "preprocessor_config.json", _preprocessor_config())
    return out_dir, clip
