"""Building LLaMA and Mixtral decoders from a ModelConfig, and the loss they train on.

The modules themselves are transformers' LlamaForCausalLM and MixtralForCausalLM, so the
weights carry the Hugging Face names that training.gguf_export maps to llama.cpp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM, MixtralConfig, MixtralForCausalLM

from training.models.config import ModelConfig


def _shared_settings(config: ModelConfig) -> dict[str, Any]:
    return {
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
        "num_key_value_heads": config.num_kv_heads,
        "max_position_embeddings": config.context_length,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_parameters": {"rope_type": "default", "rope_theta": config.rope_theta},
        "tie_word_embeddings": config.tie_embeddings,
        "initializer_range": config.init_std,
        "hidden_act": "silu",
        "use_cache": False,
    }


def config_from_transformers(hf: LlamaConfig) -> ModelConfig:
    """The ModelConfig of a dense transformers LLaMA model, the inverse of `_shared_settings`."""
    return ModelConfig(
        vocab_size=hf.vocab_size,
        hidden_size=hf.hidden_size,
        intermediate_size=hf.intermediate_size,
        num_layers=hf.num_hidden_layers,
        num_heads=hf.num_attention_heads,
        num_kv_heads=hf.num_key_value_heads,
        context_length=hf.max_position_embeddings,
        rms_norm_eps=hf.rms_norm_eps,
        rope_theta=float(hf.rope_parameters["rope_theta"]),
        tie_embeddings=hf.tie_word_embeddings,
    )


def build_model(config: ModelConfig) -> nn.Module:
    """A freshly initialised decoder; seed torch first for reproducible weights."""
    if config.is_moe:
        moe_config = MixtralConfig(
            **_shared_settings(config),
            num_local_experts=config.num_experts,
            num_experts_per_tok=config.experts_per_token,
            router_aux_loss_coef=config.router_aux_loss_coef,
        )
        return MixtralForCausalLM(moe_config)
    return LlamaForCausalLM(LlamaConfig(**_shared_settings(config), attention_bias=False))


@dataclass(frozen=True)
class LossParts:
    total: torch.Tensor  # what the optimiser minimises
    language: torch.Tensor  # next-token cross-entropy alone, comparable across dense and MoE


def language_model_loss(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, config: ModelConfig
) -> LossParts:
    """Cross-entropy of predicting `targets` (B, T) from `inputs` (B, T), plus MoE balancing."""
    if config.is_moe:
        output = model(input_ids=inputs, output_router_logits=True)
    else:
        output = model(input_ids=inputs)
    logits = output.logits  # (B, T, vocab)
    language = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())  # scalar
    if not config.is_moe:
        return LossParts(total=language, language=language)
    # Mixtral's auxiliary loss pushes the router to spread tokens evenly over the experts.
    total = language + config.router_aux_loss_coef * output.aux_loss
    return LossParts(total=total, language=language)
