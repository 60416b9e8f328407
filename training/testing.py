"""Tiny random-weight GGUF models for tests, built in about a second without torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from training.gguf_export import finish_gguf, write_gguf
from training.models.config import ModelConfig
from training.tokenizer import train_bpe

_CORPUS = (
    "Hearth is a private assistant that runs on your own computer.",
    "The quick brown fox jumps over the lazy dog.",
    "Documents are split into chunks, embedded, and searched by meaning and by keywords.",
    "A language model predicts the next token from the tokens before it.",
    "def add(a, b):\n    return a + b\n",
    "Numbers like 3.14, 42 and 2026 appear in text too.",
)


def tiny_config(
    vocab_size: int, *, moe: bool = False, hidden_size: int = 64, **changes: Any
) -> ModelConfig:
    """Heads of 16 dimensions, two query heads per KV head, a feed-forward twice as wide;
    `changes` replaces any other field (context_length, num_layers, ...)."""
    config = ModelConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_layers=2,
        num_heads=hidden_size // 16,
        num_kv_heads=hidden_size // 32,
        context_length=512,
        num_experts=4 if moe else 0,
        experts_per_token=2 if moe else 0,
        tie_embeddings=False,  # an output matrix of its own, as build_tiny_gguf has always had
    )
    return config.replace(**changes)


def random_weights(config: ModelConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """HF-named weights drawn like a freshly initialised model."""
    rng = np.random.default_rng(seed)
    h, inter, v = config.hidden_size, config.intermediate_size, config.vocab_size
    kv = config.num_kv_heads * (h // config.num_heads)

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.02, size=shape).astype(np.float32)

    weights = {
        "model.embed_tokens.weight": normal(v, h),
        "model.norm.weight": np.ones(h, np.float32),
    }
    if not config.tie_embeddings:
        weights["lm_head.weight"] = normal(v, h)
    for i in range(config.num_layers):
        p = f"model.layers.{i}."
        weights |= {
            p + "input_layernorm.weight": np.ones(h, np.float32),
            p + "post_attention_layernorm.weight": np.ones(h, np.float32),
            p + "self_attn.q_proj.weight": normal(h, h),
            p + "self_attn.k_proj.weight": normal(kv, h),
            p + "self_attn.v_proj.weight": normal(kv, h),
            p + "self_attn.o_proj.weight": normal(h, h),
        }
        if config.is_moe:
            e = config.num_experts
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
    output_scale: float = 1.0,
) -> Path:
    """Write a random-weight decoder with a real BPE tokenizer and the ChatML template.

    The defaults generate in milliseconds; wider ones are slow enough to interrupt mid-reply.
    At the usual 0.02 scale the logits stay near uniform whatever LoRA layers learn, so
    fine-tuning tests ask for an output matrix `output_scale` times larger.
    """
    tokenizer = train_bpe(_CORPUS * 4, vocab_size=384)
    config = tiny_config(
        tokenizer.get_vocab_size(),
        moe=moe,
        hidden_size=hidden_size,
        context_length=context_length,
        num_layers=num_layers,
    )
    weights = random_weights(config, seed)
    weights["lm_head.weight"] *= output_scale
    return write_gguf(path, config, weights, tokenizer.to_str(), name=path.stem)


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


def build_tiny_mmproj(
    path: Path,
    *,
    text_hidden_size: int = 64,
    seed: int = 0,
    image_size: int = 32,
    patch_size: int = 8,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
) -> Path:
    """A random-weight LLaVA-1.5-style vision projector (CLIP ViT plus a two-layer MLP).

    It pairs with `build_tiny_gguf(..., hidden_size=text_hidden_size)`: llama.cpp's mtmd turns
    each image into (image_size / patch_size)**2 embeddings of the text model's width.
    """
    import gguf

    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.02, size=shape).astype(np.float32)

    h, ff, patches = hidden_size, 4 * hidden_size, (image_size // patch_size) ** 2
    names = gguf.TENSOR_NAMES
    t = gguf.MODEL_TENSOR
    # numpy shapes are PyTorch's; the writer reverses them into ggml's order.
    tensors: dict[str, np.ndarray] = {
        names[t.V_ENC_EMBD_PATCH] + ".weight": normal(h, 3, patch_size, patch_size),
        names[t.V_ENC_EMBD_CLS]: normal(h),
        names[t.V_ENC_EMBD_POS] + ".weight": normal(patches + 1, h),
        names[t.V_PRE_NORM] + ".weight": np.ones(h, np.float32),
        names[t.V_PRE_NORM] + ".bias": np.zeros(h, np.float32),
    }
    for i in range(num_layers):
        for kind, shape in (
            (t.V_ENC_ATTN_Q, (h, h)),
            (t.V_ENC_ATTN_K, (h, h)),
            (t.V_ENC_ATTN_V, (h, h)),
            (t.V_ENC_ATTN_O, (h, h)),
            (t.V_ENC_FFN_UP, (ff, h)),
            (t.V_ENC_FFN_DOWN, (h, ff)),
        ):
            prefix = names[kind].format(bid=i)
            tensors[prefix + ".weight"] = normal(*shape)
            tensors[prefix + ".bias"] = normal(shape[0])
        for kind in (t.V_ENC_INPUT_NORM, t.V_ENC_POST_ATTN_NORM):
            prefix = names[kind].format(bid=i)
            tensors[prefix + ".weight"] = np.ones(h, np.float32)
            tensors[prefix + ".bias"] = np.zeros(h, np.float32)
    # LLaVA-1.5's projector: Linear(h, text) -> GELU -> Linear(text, text), as mm.0 and mm.2.
    for index, (rows, cols) in (
        (0, (text_hidden_size, h)),
        (2, (text_hidden_size, text_hidden_size)),
    ):
        prefix = names[t.V_MMPROJ].format(bid=index)
        tensors[prefix + ".weight"] = rng.normal(0.0, 1.0, size=(rows, cols)).astype(np.float32)
        tensors[prefix + ".bias"] = np.zeros(rows, np.float32)

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_name(path.stem)
    writer.add_type(gguf.GGUFType.MMPROJ)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    keys, vision = gguf.Keys.Clip, gguf.Keys.ClipVision
    writer.add_bool(keys.HAS_VISION_ENCODER, True)
    writer.add_bool(keys.HAS_LLAVA_PROJECTOR, True)
    writer.add_string(keys.PROJECTOR_TYPE, "mlp")  # LLaVA-1.5; gguf has no constant for it
    writer.add_uint32(vision.IMAGE_SIZE, image_size)
    writer.add_uint32(vision.PATCH_SIZE, patch_size)
    writer.add_uint32(vision.EMBEDDING_LENGTH, h)
    writer.add_uint32(vision.FEED_FORWARD_LENGTH, ff)
    writer.add_uint32(vision.PROJECTION_DIM, text_hidden_size)
    writer.add_uint32(vision.BLOCK_COUNT, num_layers)
    writer.add_uint32(vision.Attention.HEAD_COUNT, num_heads)
    writer.add_float32(vision.Attention.LAYERNORM_EPS, 1e-5)
    writer.add_array(vision.IMAGE_MEAN, [0.5, 0.5, 0.5])
    writer.add_array(vision.IMAGE_STD, [0.5, 0.5, 0.5])
    writer.add_bool(vision.USE_GELU, True)
    for name, array in tensors.items():
        writer.add_tensor(name, np.ascontiguousarray(array))
    finish_gguf(writer)
    return path
