"""Drawing a run's train and held-out loss curves to a PNG."""

from __future__ import annotations

from pathlib import Path

from training.history import TrainingHistory


def plot_losses(history: TrainingHistory, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display: runs on servers and under torchrun
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(history.train_steps, history.train_loss, label="train", linewidth=1)
    if history.eval_steps:
        axes.plot(history.eval_steps, history.eval_loss, "o-", label="held-out")
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy (nats/token)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
