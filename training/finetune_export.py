"""Exporting a fine-tuning run: the adapter GGUF llama.cpp applies at load, or a merged model."""

from __future__ import annotations

from pathlib import Path

from backend.models.gguf_info import GgufInfo, read_gguf_info
from training.finetune import FinetuneConfig, add_lora, load_base, read_finetune_checkpoint
from training.lora_gguf import merged_gguf, write_lora_gguf

ADAPTER_NAME = "adapter.gguf"


def export_adapter(run_dir: Path, path: Path, *, name: str, half: bool = True) -> GgufInfo:
    """The run's adapter as a LoRA GGUF; needs no base weights, only the head counts."""
    payload = read_finetune_checkpoint(run_dir)
    config = FinetuneConfig(**payload["config"])
    write_lora_gguf(
        path,
        payload["adapter"],
        alpha=config.alpha,
        num_heads=payload["num_heads"],
        num_kv_heads=payload["num_kv_heads"],
        name=name,
        half=half,
    )
    return read_gguf_info(path)


def export_merged(run_dir: Path, path: Path, base_path: Path | None = None) -> GgufInfo:
    """Base plus adapter folded into one f16 GGUF, written by the project's LLaMA exporter."""
    import torch

    payload = read_finetune_checkpoint(run_dir)
    base = load_base(base_path or Path(payload["base"]))
    model = add_lora(base.model, FinetuneConfig(**payload["config"]))
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in payload["adapter"].items():
            parameters[name].copy_(tensor)
    tokenizer_json = base.tokenizer.backend_tokenizer.to_str()
    merged_gguf(model, tokenizer_json, base.chat_template, path)
    return read_gguf_info(path)
