"""Rebuilding `models/hearth-tiny/`: train both recipes, export, quantize, measure, write the card.

Every figure in the card comes from this run's own measurements. Training resumes from the
run folders, so an interrupted build carries on where it stopped.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from training.checkpoint import CHECKPOINT_NAME
from training.history import TrainingHistory
from training.models.config import ModelConfig
from training.quantize import QuantReportRow
from training.recipes import recipe_path

RECIPES = ("hearth-tiny", "hearth-tiny-moe")
SHIPPED_LEVELS = ("Q8_0", "Q4_K_M")  # f16 stays in the run folder: the two together fit in git
SAMPLE_PROMPT = "The SELECT statement"


@dataclass(frozen=True)
class BuiltModel:
    recipe: str
    parameters: int
    active_parameters: int
    tokens_trained: int
    history: TrainingHistory
    report: list[QuantReportRow]
    sample: str


def _prepare(data: Path) -> None:
    from training.corpus import collect_text, shard_text
    from training.data import read_texts
    from training.tokenizer import save_tokenizer, train_bpe

    cleaned = collect_text(data)
    tokenizer = train_bpe(read_texts([data / "text"]), vocab_size=4096)
    save_tokenizer(tokenizer, data / "tokenizer.json")
    shard_text(cleaned, tokenizer, data / "shards")


def _parameter_counts(config: ModelConfig) -> tuple[int, int]:
    """Total parameters and those active for one token (the routed experts only)."""
    from training.models.decoder import build_model

    total = sum(p.numel() for p in build_model(config).parameters())
    if not config.is_moe:
        return total, total
    per_expert = 3 * config.hidden_size * config.intermediate_size
    idle = (config.num_experts - config.experts_per_token) * per_expert * config.num_layers
    return total, total - idle


def _sample(path: Path) -> str:
    from contextlib import closing

    from llama_cpp import Llama

    with closing(Llama(model_path=str(path), n_ctx=128, verbose=False)) as llm:
        output = llm.create_completion(SAMPLE_PROMPT, max_tokens=40, temperature=0.0)
    return SAMPLE_PROMPT + output["choices"][0]["text"]


def build_one(recipe: str, data: Path, runs: Path) -> BuiltModel:
    from training.data import decode_documents, load_token_stream, split_heldout
    from training.export import TOKENIZER_NAME, export_run
    from training.pretrain import TrainConfig, pretrain
    from training.quantize import quantize_report
    from training.tokenizer import load_tokenizer, save_tokenizer

    tokenizer = load_tokenizer(data / "tokenizer.json")
    model_config = ModelConfig.from_name(recipe, vocab_size=tokenizer.get_vocab_size())
    train_config = TrainConfig.from_name(recipe)
    splits = split_heldout(load_token_stream(data / "shards", tokenizer), 0.05)
    run = runs / recipe
    run.mkdir(parents=True, exist_ok=True)
    save_tokenizer(tokenizer, run / TOKENIZER_NAME)
    heldout = decode_documents(splits.heldout, tokenizer)
    (run / "heldout.txt").write_text(heldout, encoding="utf-8")
    resume = (run / CHECKPOINT_NAME).is_file()
    history = pretrain(run, model_config, train_config, splits, resume=resume)
    f16 = run / f"{recipe}-f16.gguf"
    export_run(run, f16, name=recipe)
    total, active = _parameter_counts(model_config)
    report = quantize_report(f16, heldout, max_tokens=4096)
    q8 = next(row.path for row in report if row.level == "Q8_0")
    tokens = train_config.max_steps * train_config.batch_size * train_config.seq_len
    return BuiltModel(recipe, total, active, tokens, history, report, _sample(q8))


def plot_curves(models: list[BuiltModel], path: Path) -> Path:
    from training.plots import label_loss_axes, saved_figure

    with saved_figure(path, figsize=(7, 4)) as (_, axes):
        for model in models:
            history = model.history
            (line,) = axes.plot(history.train_steps, history.train_loss, linewidth=0.8, alpha=0.6)
            axes.plot(
                history.eval_steps,
                history.eval_loss,
                "o-",
                color=line.get_color(),
                label=f"{model.recipe} held-out",
            )
        axes.set_ylim(top=min(8.5, axes.get_ylim()[1]))
        label_loss_axes(axes)
    return path


def _sources_table(data: Path) -> list[str]:
    manifest = json.loads((data / "shards" / "manifest.json").read_text(encoding="utf-8"))
    totals: dict[tuple[str, str, str], int] = {}
    for shard in manifest["shards"]:
        key = (shard["package"], shard["version"], shard["licence"])
        totals[key] = totals.get(key, 0) + shard["tokens"]
    rows = ["| Debian package | version | licence | tokens |", "|---|---|---|---|"]
    rows += [f"| `{p}` | {v} | {lic} | {n:,} |" for (p, v, lic), n in totals.items()]
    return rows


def _comparison_table(models: list[BuiltModel]) -> list[str]:
    rows = [
        "| model | parameters | active per token | tokens trained | held-out loss "
        "| f16 perplexity | f16 decode tok/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in models:
        f16 = model.report[0]
        rows.append(
            f"| {model.recipe} | {model.parameters:,} | {model.active_parameters:,} "
            f"| {model.tokens_trained:,} | {model.history.eval_loss[-1]:.3f} "
            f"| {f16.perplexity:.2f} | {f16.tokens_per_second:.0f} |"
        )
    return rows


def _comparison_sentence(models: list[BuiltModel]) -> str:
    dense, moe = models
    change = moe.history.eval_loss[-1] / dense.history.eval_loss[-1] - 1.0
    side = "higher" if change > 0 else "lower"
    return (
        f"With {moe.parameters / dense.parameters:.1f}× the stored parameters and the same "
        f"active ones, the MoE's held-out loss is {abs(change):.1%} {side} than the dense "
        f"model's after the same {dense.tokens_trained:,} tokens."
    )


def _quantization_table(models: list[BuiltModel]) -> list[str]:
    rows = ["| model | level | size | perplexity | decode tok/s |", "|---|---|---|---|---|"]
    for model in models:
        rows += [
            f"| {model.recipe} | {row.level} | {row.size_bytes / 1024**2:.2f} MiB "
            f"| {row.perplexity:.2f} | {row.tokens_per_second:.0f} |"
            for row in model.report
        ]
    return rows


def write_card(models: list[BuiltModel], data: Path, out: Path) -> Path:
    """The card's text up to the scaling section, which `scaling --card` writes separately."""
    from training.model_card import HEADING as FILES_HEADING
    from training.scaling import SECTION_HEADING as SCALING_HEADING

    card = out / "MODEL_CARD.md"
    kept = ""
    if card.is_file():  # keep the scaling sweep's section, which another command writes
        text = card.read_text(encoding="utf-8")
        if SCALING_HEADING in text:
            kept = SCALING_HEADING + text.split(SCALING_HEADING, 1)[1].split(FILES_HEADING)[0]
    recipes = "\n\n".join(
        f"`models/recipes/{m.recipe}.yaml`:\n\n```yaml\n"
        + recipe_path(m.recipe).read_text(encoding="utf-8").strip()
        + "\n```"
        for m in models
    )
    samples = "\n".join(f"- {m.recipe} (Q8_0): “{' '.join(m.sample.split())}”" for m in models)
    lines = [
        "# hearth-tiny",
        "",
        "Two small decoders trained from scratch by Hearth's `training` package on permissively",
        "licensed software documentation: a dense LLaMA-architecture model and its",
        "Mixture-of-Experts sibling in Mixtral's architecture, with equal active parameters.",
        "They are honest demonstration models and the fast models for tests: they write",
        "documentation-flavoured text, and they do not follow instructions or know facts.",
        "",
        "## Data and licences",
        "",
        *_sources_table(data),
        "",
        "Fetched and cleaned by `python -m training prepare-text` (HTML to text without page",
        "furniture; WordNet glosses as 'word: gloss' lines). FAQ pages are left out: they are",
        "the shared retrieval evaluation set. The licence files are kept in the data folder.",
        "",
        "## Configuration",
        "",
        recipes,
        "",
        "## Rebuilding",
        "",
        "```",
        "make models-tiny",
        "```",
        "",
        "which runs `python -m training build-tiny --data data/hearth-text --runs",
        "data/runs --out models/hearth-tiny`, then the scaling sweep below.",
        "",
        "## Loss curves",
        "",
        "![training and held-out loss](loss_curves.png)",
        "",
        "## Dense against MoE (measured)",
        "",
        *_comparison_table(models),
        "",
        "Held-out loss is the next-token cross-entropy on 5% of every source (the tail of each",
        "block), the same tokens for both models. " + _comparison_sentence(models),
        "Decode speeds are one 32-token greedy run per file on 2 shared CPU cores: noisy.",
        "",
        "## Quantization (measured)",
        "",
        "`python -m training quantize-report` on the held-out text (4,096 tokens),",
        "llama.cpp on 2 CPU cores. The f16 files stay in the run folder; Q8_0 and Q4_K_M ship.",
        "",
        *_quantization_table(models),
        "",
        "## Samples (greedy, 40 tokens)",
        "",
        samples,
        "",
        kept.strip(),
        "",
        FILES_HEADING,
        "",
    ]
    card.write_text("\n".join(lines), encoding="utf-8")
    return card


def build(data: Path, runs: Path, out: Path) -> Path:
    from training.model_card import update_card

    if not (data / "shards" / "manifest.json").is_file():
        _prepare(data)
    models = [build_one(recipe, data, runs) for recipe in RECIPES]
    out.mkdir(parents=True, exist_ok=True)
    for model in models:
        for row in model.report:
            if row.level in SHIPPED_LEVELS:
                shutil.copyfile(row.path, out / row.path.name)
    plot_curves(models, out / "loss_curves.png")
    write_card(models, data, out)
    return update_card(out)
