"""Writing LLaMA-style decoders (dense or Mixtral-style MoE) to GGUF files that llama.cpp runs.

Weights arrive as numpy arrays under Hugging Face `transformers` names, so the same writer serves
models trained here and random-weight fixtures built without torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from backend.llm.chat_template import DEFAULT_CHAT_TEMPLATE
from training.models.config import ModelConfig
from training.tokenizer import END_OF_TEXT, IM_END


@dataclass(frozen=True)
class GgufVocab:
    """A byte-level BPE vocabulary as GGUF stores it."""

    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    bos_id: int
    eos_id: int

    @classmethod
    def from_tokenizer_json(cls, text: str) -> GgufVocab:
        data = json.loads(text)
        vocab: dict[str, int] = dict(data["model"]["vocab"])
        special = {t["content"]: t["id"] for t in data.get("added_tokens", []) if t["special"]}
        vocab.update(special)
        tokens = [""] * len(vocab)
        for token, index in vocab.items():
            tokens[index] = token
        types = [
            gguf.TokenType.CONTROL if tok in special else gguf.TokenType.NORMAL for tok in tokens
        ]
        merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
        return cls(
            tokens=tokens,
            token_types=[int(t) for t in types],
            merges=merges,
            bos_id=special.get(END_OF_TEXT, 0),
            eos_id=special.get(IM_END, special.get(END_OF_TEXT, 0)),
        )


def permute_for_rope(weight: np.ndarray, n_head: int) -> np.ndarray:
    """HF rotates the two halves of each head; llama.cpp rotates interleaved pairs."""
    out_dim = weight.shape[0]
    return (
        weight.reshape(n_head, 2, out_dim // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def _layer_tensors(
    config: ModelConfig, weights: Mapping[str, np.ndarray], i: int
) -> Iterator[tuple[str, np.ndarray]]:
    hf, blk = f"model.layers.{i}.", f"blk.{i}."
    yield blk + "attn_norm.weight", weights[hf + "input_layernorm.weight"]
    q = weights[hf + "self_attn.q_proj.weight"]
    k = weights[hf + "self_attn.k_proj.weight"]
    yield blk + "attn_q.weight", permute_for_rope(q, config.num_heads)
    yield blk + "attn_k.weight", permute_for_rope(k, config.num_kv_heads)
    yield blk + "attn_v.weight", weights[hf + "self_attn.v_proj.weight"]
    yield blk + "attn_output.weight", weights[hf + "self_attn.o_proj.weight"]
    yield blk + "ffn_norm.weight", weights[hf + "post_attention_layernorm.weight"]
    if not config.is_moe:
        yield blk + "ffn_gate.weight", weights[hf + "mlp.gate_proj.weight"]
        yield blk + "ffn_up.weight", weights[hf + "mlp.up_proj.weight"]
        yield blk + "ffn_down.weight", weights[hf + "mlp.down_proj.weight"]
        return
    # transformers fuses each layer's experts: gate_up_proj (E, 2I, H), down_proj (E, H, I).
    # Gate rows come first: MixtralExperts computes `gate, up = (x @ gate_up_proj[e].T).chunk(2)`,
    # and tests/training/test_export.py checks the split against llama.cpp's logits.
    gate_up = weights[hf + "mlp.experts.gate_up_proj"]
    inter = gate_up.shape[1] // 2
    yield blk + "ffn_gate_inp.weight", weights[hf + "mlp.gate.weight"]  # router (E, H)
    yield blk + "ffn_gate_exps.weight", gate_up[:, :inter, :]
    yield blk + "ffn_up_exps.weight", gate_up[:, inter:, :]
    yield blk + "ffn_down_exps.weight", weights[hf + "mlp.experts.down_proj"]


def gguf_tensors(
    config: ModelConfig, weights: Mapping[str, np.ndarray]
) -> Iterator[tuple[str, np.ndarray]]:
    """Map HF-named weights to GGUF names, in llama.cpp's order."""
    yield "token_embd.weight", weights["model.embed_tokens.weight"]
    for i in range(config.num_layers):
        yield from _layer_tensors(config, weights, i)
    yield "output_norm.weight", weights["model.norm.weight"]
    if "lm_head.weight" in weights:  # absent when embeddings are tied
        yield "output.weight", weights["lm_head.weight"]


def _storage(name: str, array: np.ndarray, half: bool) -> np.ndarray:
    # Norms and the MoE router stay f32: they are tiny and precision-sensitive.
    keep_f32 = array.ndim == 1 or name.endswith("ffn_gate_inp.weight")
    dtype = np.float16 if half and not keep_f32 else np.float32
    return np.ascontiguousarray(array, dtype=dtype)


def finish_gguf(writer: gguf.GGUFWriter) -> None:
    """Write what was added to `writer` (header, metadata, tensors, in that order); close it."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_gguf(
    path: Path,
    config: ModelConfig,
    weights: Mapping[str, np.ndarray],
    tokenizer_json: str,
    *,
    name: str,
    chat_template: str = DEFAULT_CHAT_TEMPLATE,
    half: bool = True,
) -> Path:
    """Write one GGUF (f16 or f32) holding the weights, the tokenizer and the chat template."""
    vocab = GgufVocab.from_tokenizer_json(tokenizer_json)
    if len(vocab.tokens) != config.vocab_size:
        raise ValueError(f"tokenizer has {len(vocab.tokens)} tokens, model {config.vocab_size}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if half else gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(config.vocab_size)
    writer.add_context_length(config.context_length)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_block_count(config.num_layers)
    writer.add_head_count(config.num_heads)
    writer.add_head_count_kv(config.num_kv_heads)
    writer.add_rope_dimension_count(config.head_dim)
    writer.add_rope_freq_base(config.rope_theta)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    if config.is_moe:
        writer.add_expert_count(config.num_experts)
        writer.add_expert_used_count(config.experts_per_token)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    writer.add_token_merges(vocab.merges)
    writer.add_bos_token_id(vocab.bos_id)
    writer.add_eos_token_id(vocab.eos_id)
    writer.add_add_bos_token(False)
    writer.add_chat_template(chat_template)
    for tensor_name, array in gguf_tensors(config, weights):
        writer.add_tensor(tensor_name, _storage(tensor_name, array, half))
    finish_gguf(writer)
    return path
