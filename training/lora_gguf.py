"""Writing a peft LoRA adapter as a llama.cpp adapter GGUF, or merged into a full model GGUF.

llama.cpp (llama-adapter.cpp) pairs `<base tensor>.lora_a` (numpy (rank, in)) with
`<base tensor>.lora_b` (numpy (out, rank)) and scales B·A by adapter.lora.alpha / rank.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import gguf
import numpy as np
import torch

from training.gguf_export import finish_gguf, permute_for_rope

# peft names end in "layers.<i>.<block>.<proj>.lora_<A|B>.<adapter>.weight".
_PEFT_NAME = re.compile(r"layers\.(\d+)\.(self_attn|mlp)\.(\w+_proj)\.lora_([AB])\.\w+\.weight$")
_GGUF_NAMES = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}


class UnsupportedAdapterError(ValueError):
    """The adapter holds a tensor llama.cpp's LLaMA graph has no place for."""


def lora_gguf_tensors(
    adapter: Mapping[str, torch.Tensor], num_heads: int, num_kv_heads: int
) -> Iterator[tuple[str, np.ndarray]]:
    """(GGUF name, float32 array) for every LoRA matrix, in layer order.

    The LLaMA GGUF export permutes the rows of attn_q and attn_k for llama.cpp's rotary layout
    (gguf_export.permute_for_rope); B produces those rows, so it gets the same permutation.
    """
    found = []
    for name, tensor in adapter.items():
        match = _PEFT_NAME.search(name)
        if match is None or match.group(3) not in _GGUF_NAMES:
            raise UnsupportedAdapterError(f"cannot place LoRA tensor {name} in a llama GGUF")
        layer, _, proj, which = match.groups()
        array = tensor.detach().to("cpu", torch.float32).numpy()
        if which == "B" and proj in ("q_proj", "k_proj"):
            array = permute_for_rope(array, num_heads if proj == "q_proj" else num_kv_heads)
        target = f"blk.{layer}.{_GGUF_NAMES[proj]}.weight.lora_{which.lower()}"
        found.append(((int(layer), target), array))
    for (_, target), array in sorted(found, key=lambda item: item[0]):
        yield target, array


def write_lora_gguf(
    path: Path,
    adapter: Mapping[str, torch.Tensor],
    *,
    alpha: float,
    num_heads: int,
    num_kv_heads: int,
    name: str,
    half: bool = True,
) -> Path:
    """An adapter GGUF that `llama_cpp.Llama(model_path=base, lora_path=path)` applies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_name(name)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if half else gguf.LlamaFileType.ALL_F32)
    for tensor_name, array in lora_gguf_tensors(adapter, num_heads, num_kv_heads):
        writer.add_tensor(tensor_name, array.astype(np.float16 if half else np.float32))
    finish_gguf(writer)
    return path


def merged_gguf(
    peft_model: torch.nn.Module, tokenizer_json: str, chat_template: str | None, path: Path
) -> Path:
    """Fold the adapter into the base weights and write a full f16 GGUF with the project's
    LLaMA exporter (which applies the q/k permutation to the merged weights itself)."""
    from training.gguf_export import write_gguf
    from training.models.decoder import config_from_transformers

    merged = peft_model.merge_and_unload()  # type: ignore[operator]
    config = merged.config
    weights = {k: v.detach().to(torch.float32).numpy() for k, v in merged.state_dict().items()}
    if config.tie_word_embeddings:
        weights.pop("lm_head.weight", None)  # llama.cpp reuses token_embd.weight
    decoder = config_from_transformers(config)
    extra = {"chat_template": chat_template} if chat_template else {}
    return write_gguf(path, decoder, weights, tokenizer_json, name=path.stem, **extra)
