"""Scaling sweep: train several sizes on the same tokens and fit loss power laws.

Loss against parameters uses each size's final held-out loss, L(N) = a * N^-b, with N the
non-embedding parameters (Kaplan et al. 2020). Loss against compute uses every held-out
evaluation of every run, C = 6 * N * tokens seen, and fits the lower envelope: the best loss
any size reached for that much compute.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.data import TokenSplits
from training.history import TrainingHistory
from training.models.config import ModelConfig
from training.recipes import read_section, recipe_path

SCALING = "scaling"
SECTION_HEADING = "## Scaling sweep"


@dataclass(frozen=True)
class PowerLaw:
    """y = coefficient * x ** -exponent, fitted by least squares in log-log space."""

    coefficient: float
    exponent: float
    r_squared: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.coefficient * np.power(x, -self.exponent)


def fit_power_law(x: np.ndarray, y: np.ndarray) -> PowerLaw:
    log_x, log_y = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    slope, intercept = np.polyfit(log_x, log_y, 1)
    residual = log_y - (slope * log_x + intercept)
    spread = float(((log_y - log_y.mean()) ** 2).sum())
    r_squared = 1.0 - float((residual**2).sum()) / spread if spread else 1.0
    return PowerLaw(float(np.exp(intercept)), float(-slope), r_squared)


@dataclass(frozen=True)
class SweepRun:
    name: str
    config: ModelConfig
    parameters: int  # non-embedding
    tokens_per_step: int
    learning_rate: float
    history: TrainingHistory

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
class SweepRecipe:
    """Each size's model config, and its training settings: the shared ones plus its own."""

    sizes: dict[str, ModelConfig]
    train: dict[str, dict[str, Any]]

    @classmethod
    def from_file(cls, path: Path, vocab_size: int) -> SweepRecipe:
        shared = read_section(path, "model", kind=SCALING) | {"vocab_size": vocab_size}
        shared_train = read_section(path, "train", kind=SCALING)
        model_fields = {field.name for field in dataclasses.fields(ModelConfig)}
        sizes, train = {}, {}
        for name, size in read_section(path, "sizes", kind=SCALING).items():
            model = {key: value for key, value in size.items() if key in model_fields}
            sizes[name] = ModelConfig(**(shared | model))
            train[name] = shared_train | {k: v for k, v in size.items() if k not in model}
        return cls(sizes, train)

    @classmethod
    def from_name(cls, name: str, vocab_size: int) -> SweepRecipe:
        return cls.from_file(recipe_path(name, kind=SCALING), vocab_size)


def run_sweep(out_dir: Path, recipe: SweepRecipe, splits: TokenSplits) -> list[SweepRun]:
    """Train every size (each into out_dir/<name>); finished sizes are read back, not redone."""
    from training.pretrain import TrainConfig, pretrain

    runs = []
    for name, config in recipe.sizes.items():
        train_config = TrainConfig(**recipe.train[name])
        folder = out_dir / name
        done = folder / "history.json"
        if done.is_file():
            history = TrainingHistory.from_dict(json.loads(done.read_text(encoding="utf-8")))
        else:
            resume = (folder / "checkpoint.pt").is_file()  # an interrupted sweep carries on
            history = pretrain(folder, config, train_config, splits, resume=resume)
        tokens_per_step = train_config.batch_size * train_config.seq_len
        parameters = non_embedding_parameters(config)
        lr = train_config.learning_rate
        runs.append(SweepRun(name, config, parameters, tokens_per_step, lr, history))
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
        law = fits.parameters
        by_size.loglog(
            line, law(line), "--", label=f"{law.coefficient:.2f} · N^-{law.exponent:.3f}"
        )
        by_size.set_xlabel("non-embedding parameters N")
        by_size.set_title("loss against model size")
        for run in runs:
            by_compute.loglog(*run.compute_points(), "-", alpha=0.7, label=run.name)
        frontier_c, _ = compute_frontier(runs)
        line = np.geomspace(frontier_c.min(), frontier_c.max(), 50)
        law = fits.compute
        by_compute.loglog(
            line, law(line), "k--", label=f"frontier {law.coefficient:.2f} · C^-{law.exponent:.3f}"
        )
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


def sweep_markdown(runs: list[SweepRun], fits: SweepFits, plot_name: str) -> str:
    tokens = runs[0].history.eval_steps[-1] * runs[0].tokens_per_step
    rows = [
        f"| {run.name} | {run.config.hidden_size} | {run.config.num_layers} "
        f"| {run.parameters:,} | {run.learning_rate:g} | {run.final_loss:.3f} |"
        for run in runs
    ]
    p, c = fits.parameters, fits.compute
    return "\n".join(
        [
            SECTION_HEADING,
            "",
            f"Every size trained on the same {tokens:,} tokens of the same corpus.",
            "",
            "| size | hidden | layers | non-embedding parameters | learning rate | held-out loss |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"- Loss against parameters: L(N) = {p.coefficient:.3f} · N^-{p.exponent:.4f} "
            f"(R² {p.r_squared:.3f})",
            f"- Loss against compute (frontier): L(C) = {c.coefficient:.3f} · C^-{c.exponent:.4f} "
            f"(R² {c.r_squared:.3f})",
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


def write_results(out_dir: Path, runs: list[SweepRun], fits: SweepFits) -> Path:
    summary = {
        "runs": [
            {"name": r.name, "parameters": r.parameters, "final_loss": r.final_loss} for r in runs
        ],
        "fits": {"parameters": asdict(fits.parameters), "compute": asdict(fits.compute)},
    }
    path = out_dir / "scaling.json"
    path.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return path
