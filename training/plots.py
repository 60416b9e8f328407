"""Drawing training curves to PNG files: a headless figure, and a run's loss curves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from training.history import TrainingHistory


@contextmanager
def saved_figure(path: Path, *, dpi: int = 120, **subplots: Any) -> Iterator[tuple[Any, Any]]:
    """`plt.subplots(**subplots)` as (figure, axes); on leaving, laid out, written to `path`
    and closed."""
    import matplotlib

    matplotlib.use("Agg")  # no display: runs on servers and under torchrun
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(**subplots)
    try:
        yield figure, axes
        figure.tight_layout()
        figure.savefig(path, dpi=dpi)
    finally:
        plt.close(figure)


CROSS_ENTROPY = "cross-entropy (nats/token)"


def label_loss_axes(axes: Any, ylabel: str = CROSS_ENTROPY) -> None:
    axes.set_xlabel("step")
    axes.set_ylabel(ylabel)
    axes.legend()
    axes.grid(alpha=0.3)


def plot_losses(history: TrainingHistory, path: Path, ylabel: str = CROSS_ENTROPY) -> Path:
    with saved_figure(path, figsize=(7, 4)) as (_, axes):
        axes.plot(history.train_steps, history.train_loss, label="train", linewidth=1)
        if history.eval_steps:
            axes.plot(history.eval_steps, history.eval_loss, "o-", label="held-out")
        label_loss_axes(axes, ylabel)
    return path
