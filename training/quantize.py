"""Quantizing GGUF files with llama.cpp and comparing size, perplexity and speed per level."""

from __future__ import annotations

import math
import os
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backend.models.gguf_info import GgufInfo, read_gguf_info
from training.errors import TrainingError

if TYPE_CHECKING:
    from llama_cpp import Llama

K_QUANT_BLOCK = 256  # k-quants pack rows in super-blocks of 256 values
# llama.cpp refuses to requantize, so a source must still hold float weights.
FLOAT_QUANTIZATIONS = frozenset({"ALL_F32", "F32", "F16", "BF16"})


class QuantizationError(TrainingError, RuntimeError):
    """llama.cpp could not quantize the file."""


class AlreadyQuantizedError(QuantizationError):
    """The source GGUF is already quantized; llama.cpp only quantizes float weights."""


class HeldoutTooShortError(TrainingError, ValueError):
    """The held-out text has too few tokens to measure perplexity."""


@dataclass(frozen=True)
class QuantLevel:
    name: str
    ftype: int  # llama_ftype, as llama_model_quantize takes it


def read_quantizable(source: Path) -> GgufInfo:
    """Validate `source` as an intact float GGUF before the `gguf` reader or llama.cpp opens it."""
    info = read_gguf_info(source)
    if info.quantization not in FLOAT_QUANTIZATIONS:
        raise AlreadyQuantizedError(
            f"{source} is already quantized ({info.quantization}); quantize the f16 or f32 GGUF "
            "that `python -m training export` writes"
        )
    return info


def _row_sizes(path: Path) -> set[int]:
    from gguf import GGUFReader

    # GGUF shapes are innermost-first: shape[0] is the length of one row.
    return {int(t.shape[0]) for t in GGUFReader(path).tensors if len(t.shape) >= 2}


def quant_levels(path: Path) -> list[QuantLevel]:
    """Q8_0 and Q4_K_M, or Q4_0 instead of Q4_K_M when rows do not fill k-quant blocks."""
    import llama_cpp

    read_quantizable(path)
    levels = [QuantLevel("Q8_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0)]
    if all(size % K_QUANT_BLOCK == 0 for size in _row_sizes(path)):
        levels.append(QuantLevel("Q4_K_M", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M))
    else:
        levels.append(QuantLevel("Q4_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0))
    return levels


def quantized_path(source: Path, level: QuantLevel) -> Path:
    stem = source.stem.removesuffix("-f16").removesuffix("-F16")
    return source.with_name(f"{stem}-{level.name}.gguf")


def quantize_gguf(source: Path, level: QuantLevel, target: Path | None = None) -> Path:
    """Write `source` quantized to `level`; the result is validated like any loaded model."""
    import llama_cpp

    read_quantizable(source)
    target = target or quantized_path(source, level)
    partial = target.with_suffix(".partial")  # a failed or interrupted run leaves no bad file
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = level.ftype
    try:
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), params)
        if status != 0:
            raise QuantizationError(f"llama.cpp failed to quantize {source} to {level.name}")
        read_gguf_info(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _open_llama(path: Path, n_ctx: int) -> Llama:
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True, verbose=False)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def perplexity(path: Path, token_ids: list[int], n_ctx: int) -> float:
    """exp(mean next-token NLL) over windows of n_ctx tokens, each evaluated from scratch."""
    total_nll, predicted = 0.0, 0
    with closing(_open_llama(path, n_ctx)) as llm:
        for start in range(0, len(token_ids) - 1, n_ctx):
            window = token_ids[start : start + n_ctx]
            if len(window) < 2:
                break
            llm.reset()
            llm.eval(window)
            log_probs = _log_softmax(np.asarray(llm.scores[: len(window)], np.float64))  # (T, V)
            total_nll -= float(log_probs[np.arange(len(window) - 1), window[1:]].sum())
            predicted += len(window) - 1
    if not predicted:
        raise HeldoutTooShortError("the held-out text has under 2 tokens; pass a longer --text")
    return math.exp(total_nll / predicted)


def generation_speed(path: Path, prompt_ids: list[int], new_tokens: int) -> float:
    """Greedy decoding throughput in tokens per second, after the prompt is processed."""
    with closing(_open_llama(path, len(prompt_ids) + new_tokens + 1)) as llm:
        llm.eval(prompt_ids)  # prompt processing is not part of the decode speed
        started = time.perf_counter()
        for _ in range(new_tokens):
            next_id = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            llm.eval([next_id])
        return new_tokens / (time.perf_counter() - started)


def tokenize_with_model(path: Path, text: str) -> list[int]:
    from llama_cpp import Llama

    with closing(Llama(model_path=str(path), vocab_only=True, verbose=False)) as vocab:
        return vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False)


@dataclass(frozen=True)
class QuantReportRow:
    level: str
    path: Path
    size_bytes: int
    perplexity: float
    tokens_per_second: float


def quantize_report(
    source: Path, heldout_text: str, *, max_tokens: int = 2048, new_tokens: int = 32
) -> list[QuantReportRow]:
    """Quantize `source` to every level and measure each file, the original first."""
    info = read_quantizable(source)
    ids = tokenize_with_model(source, heldout_text)[:max_tokens]
    n_ctx = min(info.context_length, 512)
    files = [(info.quantization, source)]
    files += [(level.name, quantize_gguf(source, level)) for level in quant_levels(source)]
    return [
        QuantReportRow(
            level=name,
            path=path,
            size_bytes=path.stat().st_size,
            perplexity=perplexity(path, ids, n_ctx),
            tokens_per_second=generation_speed(path, ids[:16], new_tokens),
        )
        for name, path in files
    ]


def format_report(rows: list[QuantReportRow]) -> str:
    lines = [f"{'level':<8} {'size':>10} {'perplexity':>11} {'gen tok/s':>10}  file"]
    for row in rows:
        size = f"{row.size_bytes / 1024**2:.2f} MiB"
        lines.append(
            f"{row.level:<8} {size:>10} {row.perplexity:>11.3f} "
            f"{row.tokens_per_second:>10.1f}  {row.path.name}"
        )
    return "\n".join(lines)
