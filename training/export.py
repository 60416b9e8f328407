"""Exporting a trained torch decoder to a GGUF file that llama.cpp runs, and checking it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from backend.models.gguf_info import GgufInfo, InvalidGgufError, read_gguf_info
from training.checkpoint import CHECKPOINT_NAME, read_trained_model
from training.gguf_export import write_gguf
from training.models.config import ModelConfig

TOKENIZER_NAME = "tokenizer.json"


class ExportMismatchError(InvalidGgufError):
    """The written GGUF does not describe the model that was exported."""


def numpy_weights(
    state_dict: Mapping[str, torch.Tensor], config: ModelConfig
) -> dict[str, np.ndarray]:
    """float32 numpy arrays under the same HF names; the tied output matrix is left out."""
    weights = {
        name: tensor.detach().to("cpu", torch.float32).numpy()
        for name, tensor in state_dict.items()
    }
    if config.tie_embeddings:
        # llama.cpp reuses token_embd.weight when the file has no output.weight.
        weights.pop("lm_head.weight", None)
    return weights


def verify_export(path: Path, config: ModelConfig) -> GgufInfo:
    """Re-read the file as the backend will; raises InvalidGgufError if it is not our model."""
    info = read_gguf_info(path)
    expected = {
        "block_count": config.num_layers,
        "embedding_length": config.hidden_size,
        "head_count": config.num_heads,
        "head_count_kv": config.num_kv_heads,
        "expert_count": config.num_experts,
    }
    wrong = {k: (getattr(info, k), v) for k, v in expected.items() if getattr(info, k) != v}
    if wrong:
        details = ", ".join(f"{k} is {got}, expected {want}" for k, (got, want) in wrong.items())
        raise ExportMismatchError(f"{path} does not match the exported model: {details}")
    return info


def export_gguf(
    state_dict: Mapping[str, torch.Tensor],
    config: ModelConfig,
    tokenizer_json: str,
    path: Path,
    *,
    name: str,
    half: bool = True,
) -> GgufInfo:
    """Write weights, tokenizer and chat template to `path` (f16 or f32) and verify the file."""
    weights = numpy_weights(state_dict, config)
    write_gguf(path, config, weights, tokenizer_json, name=name, half=half)
    return verify_export(path, config)


def export_run(
    run_dir: Path, path: Path, *, name: str | None = None, half: bool = True
) -> GgufInfo:
    """Export the checkpoint in a pretraining run folder."""
    config, state_dict = read_trained_model(run_dir / CHECKPOINT_NAME)
    tokenizer_json = (run_dir / TOKENIZER_NAME).read_text(encoding="utf-8")
    return export_gguf(
        state_dict, config, tokenizer_json, path, name=name or run_dir.name, half=half
    )
