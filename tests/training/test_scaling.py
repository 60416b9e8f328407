"""The scaling sweep trains each size, fits power laws and writes them into a model card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import tiny_model_config
from training.cli import main
from training.history import TrainingHistory
from training.scaling import SweepRun, compute_frontier, fit_power_law, fit_sweep, sweep_markdown

SWEEP_RECIPE = """
kind: scaling
model: {context_length: 64, num_heads: 2, num_kv_heads: 1}
sizes:
  small: {hidden_size: 16, intermediate_size: 32, num_layers: 1}
  large: {hidden_size: 32, intermediate_size: 64, num_layers: 2, learning_rate: 0.005}
train: {max_steps: 6, batch_size: 4, seq_len: 16, warmup_steps: 2, eval_every: 3,
        eval_batches: 2, checkpoint_every: 3, heldout_fraction: 0.1, learning_rate: 0.01,
        device: cpu}
"""


def test_power_law_fit_recovers_a_known_exponent() -> None:
    sizes = np.array([1e4, 1e5, 1e6, 1e7])
    law = fit_power_law(sizes, 7.0 * sizes**-0.076)
    assert law.exponent == pytest.approx(0.076, abs=1e-6)
    assert law.coefficient == pytest.approx(7.0, rel=1e-6)
    assert law.r_squared == pytest.approx(1.0)


def _run(name: str, parameters: int, losses: list[float]) -> SweepRun:
    history = TrainingHistory(eval_steps=[1, 2, 3], eval_loss=losses)
    return SweepRun(name, tiny_model_config(64), parameters, 10, 1e-3, history)


def test_a_larger_size_finishing_above_a_smaller_one_is_called_out() -> None:
    runs = [_run("small", 100, [5.0, 4.0, 3.5]), _run("large", 1000, [4.5, 3.8, 3.6])]
    text = sweep_markdown(runs, fit_sweep(runs), "scaling.png")
    assert "large finished above the smaller small (3.600 against 3.500)" in text


def test_the_compute_frontier_keeps_only_the_best_loss_for_its_compute() -> None:
    small, large = _run("small", 100, [5.0, 4.0, 3.5]), _run("large", 1000, [4.5, 3.0, 2.5])
    compute, loss = compute_frontier([small, large])
    # small's evaluations cost 6e3..1.8e4 FLOPs, large's 6e4..1.8e5; 4.5 is no better than 3.5.
    assert compute.tolist() == [6e3, 1.2e4, 1.8e4, 1.2e5, 1.8e5]
    assert loss.tolist() == [5.0, 4.0, 3.5, 3.0, 2.5]


def test_sweep_command_fits_both_laws_and_updates_the_card(
    corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    recipe, tokenizer, card = tmp_path / "sweep.yaml", tmp_path / "tok.json", tmp_path / "model"
    recipe.write_text(SWEEP_RECIPE, encoding="utf-8")
    card.mkdir()
    (card / "MODEL_CARD.md").write_text("# tiny\n\nIntro.\n\n## Files\n\n| x |\n", "utf-8")
    main(["tokenizer", "--input", str(corpus_dir), "--vocab-size", "300", "--out", str(tokenizer)])
    args = ["scaling", "--recipe-file", str(recipe), "--tokenizer", str(tokenizer)]
    args += ["--data", str(corpus_dir), "--out", str(tmp_path / "sweep"), "--card", str(card)]

    assert main(args) == 0
    results = json.loads((tmp_path / "sweep" / "scaling.json").read_text(encoding="utf-8"))
    assert [run["name"] for run in results["runs"]] == ["small", "large"]
    assert results["runs"][0]["parameters"] < results["runs"][1]["parameters"]
    assert np.isfinite(results["fits"]["parameters"]["exponent"])
    assert (card / "scaling.png").stat().st_size > 10_000

    # A second run reads the finished sizes back instead of training them again.
    assert main(args) == 0
    text = (card / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert text.count("## Scaling sweep") == 1
    assert text.index("## Scaling sweep") < text.index("## Files")
    assert "L(N) =" in text and "L(C) =" in text
    assert "| 0.005 |" in text  # the large size's own learning rate
    assert "Intro." in text and "| x |" in text
