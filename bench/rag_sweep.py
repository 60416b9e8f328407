"""The choices rag_eval makes on the dev set, and only there: fusion, candidate depth,
chunking, context in chunks, the fast embedding mode and the reranker's cut-off."""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag_eval import Run, Scores, by_kind, describe, search_all, table
from rag_index import EmbeddingCache, Variant, build_index, chunk_file
from rag_rerank import RERANK_DEPTH, RERANK_WEIGHT, RerankRun

from backend.documents.grounding import SOURCES_PER_QUESTION
from backend.documents.retrieval import FUSION, Fusion
from backend.embeddings.minilm import EmbedderConfig, MiniLmEmbedder

if TYPE_CHECKING:
    from backend.documents.reranker import Reranker

RRF_KS = (1, 2, 5, 10, 20, 60)
RRF_BM25_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0)
SCORE_BM25_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
DEPTHS = (10, 20, 40, 80)
VARIANTS = {
    "context": (Variant(context="none"), Variant(context="name")),
    "chunking": (
        Variant(target_tokens=120, overlap_tokens=24),
        Variant(target_tokens=240, overlap_tokens=48),
        Variant(overlap_tokens=0),
    ),
    "fast": (Variant(max_tokens=128),),
}
RERANK_DEPTHS = (10, 20, 30, 40)
RERANK_WEIGHTS = (0.5, 1.0, 2.0, 4.0, 1000.0)  # 1000: relevance alone, fused breaks ties
SEED = 16
# A wrong "nothing found" hides an answer the user has ("it ignores my documents"), so the
# cut-off may refuse at most one answerable question in ten.
KEEP_ANSWERS = 0.9
SPEED_SAMPLE = 128  # chunks embedded at both lengths to measure the fast mode's speed


def fusion_sweep(run: Run) -> Fusion:
    """Every fusion's MRR@10 / recall@5; the best by MRR@10."""
    results: dict[Fusion, Scores] = {}
    print("\nweighted RRF, dense weight 1: MRR@10 / recall@5\n")
    print("| BM25 weight | " + " | ".join(f"k={k}" for k in RRF_KS) + " |")
    print("|---" * (len(RRF_KS) + 1) + "|")
    for weight in RRF_BM25_WEIGHTS:
        cells = []
        for k in RRF_KS:
            fusion = Fusion(method="rrf", bm25_weight=weight, k=k)
            results[fusion] = s = run.scores(run.fused(fusion))
            cells.append(f"{s.mrr_10:.3f} / {s.recall_5:.3f}")
        print(f"| {weight:g} | " + " | ".join(cells) + " |")
    print("\nnormalised score fusion (min-max), dense weight 1 - BM25 weight\n")
    print("| BM25 weight | MRR@10 | recall@5 |\n|---|---|---|")
    for weight in SCORE_BM25_WEIGHTS:
        fusion = Fusion(method="score", dense_weight=round(1 - weight, 2), bm25_weight=weight)
        results[fusion] = s = run.scores(run.fused(fusion))
        print(f"| {weight:g} | {s.mrr_10:.3f} | {s.recall_5:.3f} |")
    best = max(results, key=lambda f: (results[f].mrr_10, results[f].recall_5))
    print(f"\nbest on dev: {describe(best)}: {results[best].cells()}")
    print(f"shipped: {describe(FUSION)}: {results.get(FUSION, run.scores(run.fused())).cells()}")
    return best


def depth_sweep(run: Run, fusions: Sequence[Fusion]) -> None:
    rows = [
        (f"{describe(f)}, {depth} each", run.scores(run.fused(f, depth)))
        for f in fusions
        for depth in DEPTHS
    ]
    table("candidate depth (dense and BM25 each bring this many to fusion)", rows)


def variant_sweep(
    run: Run, args: argparse.Namespace, groups: Sequence[str], cache: EmbeddingCache
) -> None:
    """Dense, BM25 and fused scores of each indexing variant against today's, on a seeded
    share of the dev corpus's files (embedding is the cost) and the questions about them."""
    files = sorted({h.source for h in run.index.hits})
    paths = [
        Path(f)
        for f in sorted(random.Random(SEED).sample(files, round(len(files) * args.variant_share)))
    ]
    kept = [i for i, q in enumerate(run.questions) if Path(q.source) in set(paths)]
    questions = [run.questions[i] for i in kept]
    today = build_index(paths, Variant(), cache.embedder, cache)
    show(f"{Variant().label()} (today)", search_all(run.name, questions, today, cache))
    for group in groups:
        for variant in VARIANTS[group]:
            embedder = MiniLmEmbedder.load(
                EmbedderConfig(threads=args.threads, max_tokens=variant.max_tokens)
            )
            same_length = variant.max_tokens == cache.embedder.config.max_tokens
            own_cache = cache if same_length else EmbeddingCache(cache.folder.parent, embedder)
            index = build_index(paths, variant, embedder, own_cache)
            show(variant.label(), search_all(run.name, questions, index, own_cache))
    if "fast" in groups:
        speed(paths[:40], args)


def show(label: str, found: Run) -> None:
    table(
        f"{label}: {len(found.questions)} questions, {len(found.index.hits)} chunks",
        [
            ("dense", found.scores(found.dense())),
            ("BM25", found.scores(found.bm25())),
            (f"fused ({describe(FUSION)})", found.scores(found.fused())),
        ],
    )
    by_kind(found, sorted({q.kind for q in found.questions}))
    sys.stdout.flush()


def speed(paths: Sequence[Path], args: argparse.Namespace) -> None:
    """Chunks/s at the full and the fast length, over the same chunks, in this run."""
    rates = {}
    for max_tokens in (256, 128):
        embedder = MiniLmEmbedder.load(EmbedderConfig(threads=args.threads, max_tokens=max_tokens))
        texts = [c.embedding_text() for p in paths for c in chunk_file(p, embedder, Variant())]
        texts = texts[:SPEED_SAMPLE]
        embedder.embed(texts[:32])  # warm-up
        began = time.perf_counter()
        embedder.embed(texts)
        rates[max_tokens] = len(texts) / (time.perf_counter() - began)
    print(
        f"\nembedding speed, {SPEED_SAMPLE} dev chunks, {args.threads} thread(s): "
        f"{rates[256]:.1f} chunks/s at 256, {rates[128]:.1f} at 128 "
        f"({rates[128] / rates[256]:.2f}x)"
    )


def rerank_sweep(run: Run, reranker: Reranker) -> None:
    """Rerank depth and weight, and the cut-off: the relevance of the answer when it is among
    the sources a chat gets, against the best relevance there once its file is taken out; the
    same for the cosine rule that decided before."""
    rerank = RerankRun(reranker, max(RERANK_DEPTHS))
    table(
        f"rerank depth (top fused candidates reordered, weight {rerank.weight:g})",
        [(f"top {d}", run.scores(rerank.reranked(run, d, RERANK_WEIGHT))) for d in RERANK_DEPTHS],
    )
    table(
        f"rerank weight (fused score + weight x relevance, top {RERANK_DEPTH})",
        [(f"weight {w:g}", run.scores(rerank.reranked(run, RERANK_DEPTH, w)))
         for w in RERANK_WEIGHTS],
    )  # fmt: skip
    judged: dict[str, tuple[list[float], list[float]]] = {
        name: ([], []) for name in ("relevance", "cosine", "mean of both")
    }
    for i, question in enumerate(run.questions):
        cosine = dict(run.candidates[i].dense)  # chunks below the dense top score 0
        reranked = [(k, r) for k, _, r in rerank.scored(run, i, RERANK_DEPTH)]
        fused = [(k, cosine.get(k, 0.0)) for k, _ in run.candidates[i].fused(FUSION)]
        both = [(k, (r + cosine.get(k, 0.0)) / 2) for k, r in reranked]
        for name, ranked in (("relevance", reranked), ("cosine", fused), ("mean of both", both)):
            present, absent = judged[name]
            sources = ranked[:SOURCES_PER_QUESTION]
            present += [s for k, s in sources if question.is_answer(run.index.hit(k, 0))][:1]
            kept = [s for k, s in ranked if run.index.hit(k, 0).source != question.source]
            if kept:
                absent.append(max(kept[:SOURCES_PER_QUESTION]))
    for name, (present, absent) in judged.items():
        cutoff_table(name, present, absent)


def cutoff_table(name: str, present: Sequence[float], absent: Sequence[float]) -> None:
    """Each cut-off's share of answers kept and of answer-less questions refused; the one
    chosen refuses most while it keeps KEEP_ANSWERS of the answers."""
    print(f"\n{name} cut-off: share of answers kept / of answer-less questions refused\n")
    print("| cut-off | kept | refused |\n|---|---|---|")
    rows = []
    for cut in [c / 20 for c in range(1, 20)]:
        kept = sum(s >= cut for s in present) / len(present)
        rows.append((cut, kept, sum(s < cut for s in absent) / len(absent)))
        print(f"| {cut:g} | {kept:.3f} | {rows[-1][2]:.3f} |")
    cut, kept, refused = max((r for r in rows if r[1] >= KEEP_ANSWERS), default=rows[0])
    print(
        f"\n{name}: cut-off {cut:g} keeps {kept:.1%} of answers and refuses {refused:.1%} of "
        f"answer-less questions (the highest that keeps {KEEP_ANSWERS:.0%})"
    )


def sweep(
    run: Run, args: argparse.Namespace, cache: EmbeddingCache, reranker: Reranker | None
) -> None:
    parts = args.sweep
    if "fusion" in parts:
        best = fusion_sweep(run)
        depth_sweep(run, [FUSION] if best == FUSION else [FUSION, best])
    groups = [g for g in parts if g in VARIANTS]
    if groups:
        variant_sweep(run, args, groups, cache)
    if "rerank" in parts and reranker is not None:
        rerank_sweep(run, reranker)
