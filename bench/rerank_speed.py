"""Rerank latency: p50 and p95 for one query against 30 chunk-sized candidates.

    nice -n 10 .venv/bin/python bench/rerank_speed.py --model RUN/model.onnx [--threads 2]

MODEL is a cross-encoder exported by training/rerank.py (its run folder's int8 model.onnx);
latency depends on its size, not on how well it was trained.

Each candidate is about 180 word pieces, as Hearth's chunks are. Each maximum length is timed
beside the embedder reading the same 30 passages (the cost search already pays), so the
ratio holds on a busy machine where absolute times do not.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from backend.documents.reranker import Reranker, RerankerConfig
from backend.embeddings.minilm import EmbedderConfig, MiniLmEmbedder, locate_files

CANDIDATES = 30  # the depth the issue budgets: 30 fused candidates within 150 ms p95

_SENTENCE = (
    "the server writes each table to disk when a transaction commits and the log records "
    "every change so that a crash can be recovered by replaying it from the last checkpoint "
    "an index speeds up queries that filter on a column but costs time on every insert"
)
QUERY = "how does the server recover after a crash"


def passages(count: int, words: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_SENTENCE.split()) for _ in range(words)) for _ in range(count)]


def percentiles(run: Callable[[], object], runs: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds, after one warm-up call."""
    run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 192, 256])
    args = parser.parse_args()
    texts = passages(CANDIDATES, 160)  # ~180 word pieces each
    embedder = MiniLmEmbedder.load(EmbedderConfig(threads=args.threads))
    base50, base95 = percentiles(lambda: embedder.embed(texts), args.runs)
    print(f"embedder, {len(texts)} passages: p50 {base50:.0f} ms, p95 {base95:.0f} ms")
    for length in args.lengths:
        config = RerankerConfig(max_tokens=length, threads=args.threads)
        reranker = Reranker(args.model, locate_files()["tokenizer"], config)
        p50, p95 = percentiles(partial(reranker.scores, QUERY, texts), args.runs)
        print(
            f"rerank {len(texts)} candidates, max {length} tokens: p50 {p50:.0f} ms, "
            f"p95 {p95:.0f} ms ({p50 / base50:.2f}x the embedder's p50)"
        )


if __name__ == "__main__":
    main()
