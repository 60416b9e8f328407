"""The typed configuration of a LLaMA-style decoder, dense or Mixture-of-Experts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.recipes import read_section, recipe_path


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a decoder; `num_experts > 0` makes every feed-forward block a routed MoE.

    The one description of a decoder: torch builds it (`models/decoder.py`), the GGUF writer
    (`gguf_export.py`) writes it for llama.cpp, and tests draw random weights for it without torch.
    """

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    context_length: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    num_experts: int = 0
    experts_per_token: int = 0
    router_aux_loss_coef: float = 0.01  # weight of Mixtral's load-balancing loss
    tie_embeddings: bool = True  # output projection shares the token embedding matrix
    init_std: float = 0.02

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError("hidden_size must divide into num_heads, num_heads into num_kv_heads")
        if self.num_experts and not 0 < self.experts_per_token <= self.num_experts:
            raise ValueError("experts_per_token must be between 1 and num_experts")

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def from_name(cls, name: str, **overrides: Any) -> ModelConfig:
        """The `model` section of models/recipes/<name>.yaml."""
        return cls.from_file(recipe_path(name), **overrides)

    @classmethod
    def from_file(cls, path: Path, **overrides: Any) -> ModelConfig:
        return cls(**(read_section(path, "model") | overrides))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)
