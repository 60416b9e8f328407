"""Tiny random-weight GGUF models for tests, built in about a second without torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.gguf_export import DecoderSpec, write_gguf
from training.tokenizer import train_bpe

_CORPUS = (
    "Hearth is a private assistant that runs on your own computer.",
    "The quick brown fox jumps over the lazy dog.",
    "Documents are split into chunks, embedded, and searched by meaning and by keywords.",
    "A language model predicts the next token from the tokens before it.",
    "def add(a, b):\n    return a + b\n",
    "Numbers like 3.14, 42 and 2026 appear in text too.",
)


def tiny_spec(
    vocab_size: int,
    *,
    moe: bool = False,
    context_length: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
) -> DecoderSpec:
    """Heads of 16 dimensions, two query heads per KV head, a feed-forward twice as wide."""
    return DecoderSpec(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_layers=num_layers,
        num_heads=hidden_size // 16,
        num_kv_heads=hidden_size // 32,
        context_length=context_length,
        num_experts=4 if moe else 0,
        experts_per_token=2 if moe else 0,
    )


def random_weights(spec: DecoderSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """HF-named weights drawn like a freshly initialised model."""
    rng = np.random.default_rng(seed)
    h, inter, v = spec.hidden_size, spec.intermediate_size, spec.vocab_size
    kv = spec.num_kv_heads * (h // spec.num_heads)

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.02, size=shape).astype(np.float32)

    weights = {
        "model.embed_tokens.weight": normal(v, h),
        "model.norm.weight": np.ones(h, np.float32),
        "lm_head.weight": normal(v, h),
    }
    for i in range(spec.num_layers):
        p = f"model.layers.{i}."
        weights |= {
            p + "input_layernorm.weight": np.ones(h, np.float32),
            p + "post_attention_layernorm.weight": np.ones(h, np.float32),
            p + "self_attn.q_proj.weight": normal(h, h),
            p + "self_attn.k_proj.weight": normal(kv, h),
            p + "self_attn.v_proj.weight": normal(kv, h),
            p + "self_attn.o_proj.weight": normal(h, h),
        }
        if spec.is_moe:
            e = spec.num_experts
            weights |= {
                p + "mlp.gate.weight": normal(e, h),
                p + "mlp.experts.gate_up_proj": normal(e, 2 * inter, h),
                p + "mlp.experts.down_proj": normal(e, h, inter),
            }
        else:
            weights |= {
                p + "mlp.gate_proj.weight": normal(inter, h),
                p + "mlp.up_proj.weight": normal(inter, h),
                p + "mlp.down_proj.weight": normal(h, inter),
            }
    return weights


def build_tiny_gguf(
    path: Path,
    *,
    moe: bool = False,
    seed: int = 0,
    context_length: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
) -> Path:
    """Write a random-weight decoder with a real BPE tokenizer and the ChatML template.

    The defaults generate in milliseconds; wider ones are slow enough to interrupt mid-reply.
    """
    tokenizer = train_bpe(_CORPUS * 4, vocab_size=384)
    spec = tiny_spec(
        tokenizer.get_vocab_size(),
        moe=moe,
        context_length=context_length,
        hidden_size=hidden_size,
        num_layers=num_layers,
    )
    name = path.stem
    return write_gguf(path, spec, random_weights(spec, seed), tokenizer.to_str(), name=name)


def build_oversized_gguf(path: Path, gib: int = 64) -> Path:
    """A valid GGUF header describing `gib` GiB of weights, stored as a sparse file.

    It exercises the memory check without using the disk or ever reaching llama.cpp.
    """
    import gguf

    hidden = 8192
    rows = gib * 1024**3 // (hidden * 2)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("oversized")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(4096)
    writer.add_embedding_length(hidden)
    writer.add_block_count(1)
    writer.add_head_count(64)
    writer.add_head_count_kv(8)
    nbytes = rows * hidden * 2
    writer.add_tensor_info("token_embd.weight", (rows, hidden), np.dtype(np.float16), nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    with path.open("r+b") as handle:
        handle.seek(0, 2)
        data_start = -(-handle.tell() // gguf.GGUF_DEFAULT_ALIGNMENT) * gguf.GGUF_DEFAULT_ALIGNMENT
        handle.truncate(data_start + nbytes)
    return path
