"""Scaling sweep: train several sizes and fit loss power laws, with intervals on the exponents.

Each size trains either on the recipe's fixed steps or, compute-optimally (Hoffmann et al.
2022), on a fixed number of tokens per non-embedding parameter. Loss against parameters uses
each size's final held-out loss, L(N) = a * N^-b, with N the non-embedding parameters (Kaplan
et al. 2020). Loss against compute uses every held-out evaluation of every run, C = 6 * N *
tokens seen, and fits the lower envelope: the best loss any size reached for that much compute.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.data import TokenSplits
from training.history import TrainingHistory
from training.models.config import ModelConfig
from training.recipes import InvalidRecipeError, read_section, recipe_path
from training.scaling_fit import PowerLaw, fit_power_law

SCALING = "scaling"
SECTION_HEADING = "## Scaling sweep"


@dataclass(frozen=True)
class SweepRun:
    name: str
    config: ModelConfig
    parameters: int  # non-embedding
    tokens_per_step: int
    learning_rate: float
    history: TrainingHistory
    timing: dict[str, Any] | None = None  # wall seconds and machine, when the sweep timed it

    @property
    def tokens(self) -> int:
        return self.history.eval_steps[-1] * self.tokens_per_step

    @property
    def final_loss(self) -> float:
        return self.history.eval_loss[-1]

    def compute_points(self) -> tuple[np.ndarray, np.ndarray]:
        """(training FLOPs, held-out loss) at each evaluation."""
        tokens = np.asarray(self.history.eval_steps, float) * self.tokens_per_step
        return 6.0 * self.parameters * tokens, np.asarray(self.history.eval_loss)


def non_embedding_parameters(config: ModelConfig) -> int:
    from training.models.decoder import build_model

    model = build_model(config)
    total = sum(p.numel() for p in model.parameters())
    return total - model.get_input_embeddings().weight.numel()  # tied: the head is the same


def compute_frontier(runs: list[SweepRun]) -> tuple[np.ndarray, np.ndarray]:
    """The evaluations that beat every evaluation made with less compute."""
    points = sorted(
        (float(c), float(loss))
        for run in runs
        for c, loss in zip(*run.compute_points(), strict=True)
    )
    frontier: list[tuple[float, float]] = []
    for compute, loss in points:
        if not frontier or loss < frontier[-1][1]:
            frontier.append((compute, loss))
    return np.array([c for c, _ in frontier]), np.array([loss for _, loss in frontier])


@dataclass(frozen=True)
class TokenBudget:
    """The compute-optimal rule: each size sees tokens_per_parameter tokens per parameter.

    Its steps follow from that, and so do its warmup and how often it is evaluated, so that a
    small size's short run and a large size's long one are scheduled alike.
    """

    tokens_per_parameter: float
    evaluations: int = 10  # held-out evaluations per size, evenly spaced
    warmup_fraction: float = 0.05

    KEYS = ("tokens_per_parameter", "evaluations", "warmup_fraction")

    def steps(self, parameters: int, tokens_per_step: int) -> int:
        return max(1, math.ceil(self.tokens_per_parameter * parameters / tokens_per_step))

    def train_settings(self, parameters: int, tokens_per_step: int) -> dict[str, int]:
        steps = self.steps(parameters, tokens_per_step)
        every = max(1, math.ceil(steps / self.evaluations))
        return {
            "max_steps": steps,
            "eval_every": every,
            "checkpoint_every": every,
            "warmup_steps": max(1, round(self.warmup_fraction * steps)),
        }


def _budgeted(
    name: str, config: ModelConfig, train: dict[str, Any], budget: TokenBudget
) -> dict[str, Any]:
    """A size's training settings with the steps the budget gives its parameter count."""
    from training.pretrain import TrainConfig

    clash = sorted(set(budget.train_settings(1, 1)) & set(train))
    if clash:
        raise InvalidRecipeError(
            f"the recipe sets {', '.join(clash)} for size {name!r}, "
            "which tokens_per_parameter decides"
        )
    defaults = TrainConfig(**train)
    tokens_per_step = defaults.batch_size * defaults.seq_len
    return train | budget.train_settings(non_embedding_parameters(config), tokens_per_step)


@dataclass(frozen=True)
class SweepRecipe:
    """Each size's model config, and its training settings: the shared ones plus its own.

    With `tokens_per_parameter` in the `train` section, every size's steps follow that rule
    (the budget); otherwise every size runs the shared max_steps.
    """

    sizes: dict[str, ModelConfig]
    train: dict[str, dict[str, Any]]
    budget: TokenBudget | None = None

    @classmethod
    def from_file(cls, path: Path, vocab_size: int) -> SweepRecipe:
        shared = read_section(path, "model", kind=SCALING) | {"vocab_size": vocab_size}
        shared_train = read_section(path, "train", kind=SCALING)
        rule = {key: shared_train.pop(key) for key in TokenBudget.KEYS if key in shared_train}
        if rule and "tokens_per_parameter" not in rule:
            raise InvalidRecipeError(f"{path}: {', '.join(rule)} needs tokens_per_parameter")
        budget = TokenBudget(**rule) if rule else None
        model_fields = {field.name for field in dataclasses.fields(ModelConfig)}
        sizes, train = {}, {}
        for name, size in read_section(path, "sizes", kind=SCALING).items():
            model = {key: value for key, value in size.items() if key in model_fields}
            sizes[name] = ModelConfig(**(shared | model))
            train[name] = shared_train | {k: v for k, v in size.items() if k not in model}
            if budget:
                train[name] = _budgeted(name, sizes[name], train[name], budget)
        return cls(sizes, train, budget)

    @classmethod
    def from_name(cls, name: str, vocab_size: int) -> SweepRecipe:
        return cls.from_file(recipe_path(name, kind=SCALING), vocab_size)


def describe_machine() -> str:
    """The machine a size trained on: the GPU when torch sees one, else the CPU and threads."""
    import torch

    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    threads = torch.get_num_threads()
    plural = "s" if threads > 1 else ""
    return f"CPU {cpu}, {os.cpu_count()} cores, {threads} torch thread{plural}, no GPU"


def _train_one(
    folder: Path, config: ModelConfig, train: dict[str, Any], splits: TokenSplits
) -> tuple[TrainingHistory, dict[str, Any]]:
    """Train (or finish) one size and record how long it took, and where, in timing.json."""
    from training.pretrain import TrainConfig, pretrain

    resume = (folder / "checkpoint.pt").is_file()  # an interrupted sweep carries on
    start = time.monotonic()
    history = pretrain(folder, config, TrainConfig(**train), splits, resume=resume)
    timing = {
        "wall_seconds": round(time.monotonic() - start, 1),
        "machine": describe_machine(),
        "resumed": resume,  # then wall_seconds counts only the part that finished it
    }
    (folder / "timing.json").write_text(json.dumps(timing, indent=1), encoding="utf-8")
    return history, timing


def run_sweep(out_dir: Path, recipe: SweepRecipe, splits: TokenSplits) -> list[SweepRun]:
    """Train every size (each into out_dir/<name>); finished sizes are read back, not redone."""
    from training.pretrain import TrainConfig

    runs = []
    for name, config in recipe.sizes.items():
        train_config = TrainConfig(**recipe.train[name])
        folder = out_dir / name
        done, timed = folder / "history.json", folder / "timing.json"
        if done.is_file():
            history = TrainingHistory.from_dict(json.loads(done.read_text(encoding="utf-8")))
            timing = json.loads(timed.read_text(encoding="utf-8")) if timed.is_file() else None
        else:
            history, timing = _train_one(folder, config, recipe.train[name], splits)
        tokens_per_step = train_config.batch_size * train_config.seq_len
        parameters = non_embedding_parameters(config)
        lr = train_config.learning_rate
        runs.append(SweepRun(name, config, parameters, tokens_per_step, lr, history, timing))
    return runs


@dataclass(frozen=True)
class SweepFits:
    parameters: PowerLaw
    compute: PowerLaw


def fit_sweep(runs: list[SweepRun]) -> SweepFits:
    sizes = np.array([run.parameters for run in runs], float)
    losses = np.array([run.final_loss for run in runs])
    return SweepFits(fit_power_law(sizes, losses), fit_power_law(*compute_frontier(runs)))


def plot_sweep(runs: list[SweepRun], fits: SweepFits, path: Path) -> Path:
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    from training.plots import saved_figure

    with saved_figure(path, ncols=2, figsize=(11, 4.2)) as (_, (by_size, by_compute)):
        sizes = np.array([run.parameters for run in runs], float)
        by_size.loglog(sizes, [run.final_loss for run in runs], "o", label="final held-out loss")
        line = np.geomspace(sizes.min(), sizes.max(), 50)
        by_size.loglog(line, fits.parameters(line), "--", label=_law_label(fits.parameters, "N"))
        by_size.set_xlabel("non-embedding parameters N")
        by_size.set_title("loss against model size")
        for run in runs:
            by_compute.loglog(*run.compute_points(), "-", alpha=0.7, label=run.name)
        frontier_c, _ = compute_frontier(runs)
        line = np.geomspace(frontier_c.min(), frontier_c.max(), 50)
        label = "frontier " + _law_label(fits.compute, "C")
        by_compute.loglog(line, fits.compute(line), "k--", label=label)
        by_compute.set_xlabel("training compute C = 6·N·tokens (FLOPs)")
        by_compute.set_title("loss against compute")
        for axes in (by_size, by_compute):
            axes.xaxis.set_minor_formatter(NullFormatter())  # labels on decades only: no overlap
            axes.yaxis.set_major_formatter(ScalarFormatter())
            axes.yaxis.set_minor_formatter(ScalarFormatter())
            axes.set_ylabel("held-out cross-entropy (nats/token)")
            axes.grid(alpha=0.3, which="both")
            axes.legend(fontsize=8)
    return path


def _out_of_order(runs: list[SweepRun]) -> list[str]:
    """A warning line for each size that finished above a smaller one: the fit is then weak."""
    by_size = sorted(runs, key=lambda run: run.parameters)
    return [
        f"- {larger.name} finished above the smaller {smaller.name} "
        f"({larger.final_loss:.3f} against {smaller.final_loss:.3f}): at this many tokens the "
        "larger sizes are still far from converged, so the fit is indicative only."
        for smaller, larger in zip(by_size, by_size[1:], strict=False)
        if larger.final_loss > smaller.final_loss
    ]


def _law_label(law: PowerLaw, variable: str) -> str:
    interval = law.exponent_interval()
    spread = f" (95% CI {interval[0]:.3f} to {interval[1]:.3f})" if interval else ""
    return f"{law.coefficient:.2f} · {variable}^-{law.exponent:.3f}{spread}"


def _budget_line(runs: list[SweepRun], budget: TokenBudget | None) -> str:
    if budget is None:
        return f"Every size trained on the same {runs[0].tokens:,} tokens of the same corpus."
    low, high = min(run.tokens for run in runs), max(run.tokens for run in runs)
    return (
        f"Each size trained compute-optimally on {budget.tokens_per_parameter:g} tokens per "
        f"non-embedding parameter (Chinchilla's ratio), from {low:,} to {high:,} tokens of the "
        "same corpus, with its warmup and held-out evaluations scaled to its own steps."
    )


def _row(run: SweepRun) -> str:
    wall = f"{run.timing['wall_seconds']:.0f}" if run.timing else "not recorded"
    return (
        f"| {run.name} | {run.config.hidden_size} | {run.config.num_layers} "
        f"| {run.parameters:,} | {run.tokens:,} | {run.learning_rate:g} "
        f"| {run.final_loss:.3f} | {wall} |"
    )


def _machine_lines(runs: list[SweepRun], command: str | None) -> list[str]:
    machines = sorted({run.timing["machine"] for run in runs if run.timing})
    total = sum(run.timing["wall_seconds"] for run in runs if run.timing)
    lines = [
        f"- Machine: {'; '.join(machines) or 'not recorded'}; "
        f"training wall time {total / 60:.1f} minutes for the sizes timed."
    ]
    return lines + ([f"- Command: `{command}`"] if command else [])


def sweep_markdown(
    runs: list[SweepRun],
    fits: SweepFits,
    plot_name: str,
    *,
    budget: TokenBudget | None = None,
    command: str | None = None,
) -> str:
    p, c = fits.parameters, fits.compute
    return "\n".join(
        [
            SECTION_HEADING,
            "",
            _budget_line(runs, budget),
            "",
            "| size | hidden | layers | non-embedding parameters | tokens | learning rate "
            "| held-out loss | wall seconds |",
            "|---|---|---|---|---|---|---|---|",
            *(_row(run) for run in runs),
            "",
            f"- Loss against parameters: L(N) = {p.coefficient:.3f} · N^-{p.exponent:.4f} "
            f"(R² {p.r_squared:.3f}); exponent {p.describe_exponent()}",
            f"- Loss against compute (frontier): L(C) = {c.coefficient:.3f} · C^-{c.exponent:.4f} "
            f"(R² {c.r_squared:.3f}); exponent {c.describe_exponent()}",
            "- Intervals: Student-t intervals on the least-squares slope in log-log space, from "
            "its standard error with n − 2 degrees of freedom. L(N) has one point per size; the "
            "frontier's points are successive evaluations of the same runs, not independent, so "
            "the L(C) interval is narrower than the truth.",
            *_machine_lines(runs, command),
            *_out_of_order(runs),
            "",
            f"![scaling sweep]({plot_name})",
            "",
        ]
    )


def replace_card_section(card: Path, markdown: str) -> Path:
    """Put the sweep's section into the card, replacing an older one, before `## Files`."""
    text = card.read_text(encoding="utf-8")
    if SECTION_HEADING in text:
        head, rest = text.split(SECTION_HEADING, 1)
        tail = rest[rest.index("\n## ") + 1 :] if "\n## " in rest else ""
    else:
        head, _, tail = text.partition("## Files")
        tail = "## Files" + tail if tail else ""
    card.write_text(head.rstrip() + "\n\n" + markdown + "\n" + tail, encoding="utf-8")
    return card


def _fit_summary(law: PowerLaw) -> dict[str, Any]:
    return asdict(law) | {"exponent_interval_95": law.exponent_interval()}


def write_results(out_dir: Path, runs: list[SweepRun], fits: SweepFits) -> Path:
    summary = {
        "runs": [
            {
                "name": run.name,
                "parameters": run.parameters,
                "tokens": run.tokens,
                "final_loss": run.final_loss,
                "timing": run.timing,
            }
            for run in runs
        ],
        "fits": {
            "parameters": _fit_summary(fits.parameters),
            "compute": _fit_summary(fits.compute),
        },
    }
    path = out_dir / "scaling.json"
    path.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return path
