"""The scaling sweep trains each size, fits power laws and writes them into a model card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import TINY_VOCAB, tiny_model_config
from training.cli import main
from training.history import TrainingHistory
from training.recipes import InvalidRecipeError
from training.scaling import (
    SweepRecipe,
    SweepRun,
    TokenBudget,
    compute_frontier,
    fit_sweep,
    non_embedding_parameters,
    sweep_markdown,
)
from training.scaling_fit import PowerLaw, fit_power_law, student_t_quantile

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
    assert "no interval from 2 points" in text  # two sizes give no standard error
    assert f"--recipe-file {recipe} --tokenizer {tokenizer}" in text
    assert "- Machine: CPU " in text and "torch thread" in text
    assert "Intro." in text and "| x |" in text


BUDGET_RECIPE = """
kind: scaling
model: {context_length: 64, num_heads: 2, num_kv_heads: 1}
sizes:
  small: {hidden_size: 16, intermediate_size: 32, num_layers: 1}
  large: {hidden_size: 32, intermediate_size: 64, num_layers: 2}
train: {tokens_per_parameter: 20, evaluations: 4, warmup_fraction: 0.1, batch_size: 4,
        seq_len: 16, learning_rate: 0.01, device: cpu}
"""


def test_a_token_budget_gives_each_size_steps_in_proportion_to_its_parameters(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(BUDGET_RECIPE, encoding="utf-8")
    recipe = SweepRecipe.from_file(path, vocab_size=TINY_VOCAB)

    assert recipe.budget == TokenBudget(tokens_per_parameter=20, evaluations=4, warmup_fraction=0.1)
    for name, config in recipe.sizes.items():
        train, parameters = recipe.train[name], non_embedding_parameters(config)
        tokens = train["max_steps"] * 4 * 16
        assert 20 * parameters <= tokens < 20 * parameters + 4 * 16  # the ratio, to one step
        assert train["eval_every"] == -(-train["max_steps"] // 4)
        assert train["warmup_steps"] == round(0.1 * train["max_steps"])
    small, large = recipe.sizes["small"], recipe.sizes["large"]
    ratio = non_embedding_parameters(large) / non_embedding_parameters(small)
    steps = recipe.train["large"]["max_steps"] / recipe.train["small"]["max_steps"]
    assert steps == pytest.approx(ratio, rel=0.02)


def test_a_token_budget_refuses_steps_set_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(BUDGET_RECIPE.replace("device: cpu", "device: cpu, max_steps: 9"), "utf-8")
    with pytest.raises(InvalidRecipeError, match="max_steps for size 'small'"):
        SweepRecipe.from_file(path, vocab_size=TINY_VOCAB)


def test_student_t_quantiles_match_the_tables() -> None:
    assert student_t_quantile(0.975, 1) == pytest.approx(12.706, abs=2e-3)
    assert student_t_quantile(0.975, 3) == pytest.approx(3.182, abs=1e-3)
    assert student_t_quantile(0.95, 10) == pytest.approx(1.812, abs=1e-3)
    assert student_t_quantile(0.975, 1000) == pytest.approx(1.962, abs=1e-3)


def _noisy_exponent_fits(noise: float, trials: int, seed: int = 0) -> list[PowerLaw]:
    """Fits of L = 7 N^-0.076 at five sizes, with log-normal noise of this spread."""
    rng = np.random.default_rng(seed)
    sizes = np.geomspace(1e4, 1e6, 5)
    clean = 7.0 * sizes**-0.076
    return [
        fit_power_law(sizes, clean * np.exp(rng.normal(0.0, noise, sizes.size)))
        for _ in range(trials)
    ]


def test_the_exponent_interval_holds_the_true_exponent_at_its_stated_rate() -> None:
    fits = _noisy_exponent_fits(noise=0.02, trials=800)
    intervals = [law.exponent_interval() for law in fits]
    covered = np.mean([low <= 0.076 <= high for low, high in intervals])  # type: ignore[misc]
    # 95% with 3 degrees of freedom; a normal quantile (1.96) would cover only about 85%.
    assert 0.93 <= covered <= 0.97


def test_the_exponent_interval_shrinks_with_less_noise() -> None:
    def mean_width(noise: float) -> float:
        intervals = [law.exponent_interval() for law in _noisy_exponent_fits(noise, 200)]
        return float(np.mean([high - low for low, high in intervals]))  # type: ignore[misc]

    assert mean_width(0.005) == pytest.approx(mean_width(0.02) / 4, rel=1e-6)


def test_an_exact_power_law_has_a_zero_width_interval_and_two_points_have_none() -> None:
    sizes = np.array([1e4, 1e5, 1e6])
    low, high = fit_power_law(sizes, 7.0 * sizes**-0.076).exponent_interval()  # type: ignore[misc]
    assert low == pytest.approx(0.076, abs=1e-9) and high == pytest.approx(0.076, abs=1e-9)
    assert fit_power_law(sizes[:2], 7.0 * sizes[:2] ** -0.076).exponent_interval() is None


def test_the_shipped_sweep_trains_five_or_more_sizes_on_tokens_growing_with_parameters() -> None:
    recipe = SweepRecipe.from_name("hearth-scaling", vocab_size=4096)
    assert recipe.budget is not None and len(recipe.sizes) >= 5
    by_size = sorted(
        (non_embedding_parameters(config), recipe.train[name]["max_steps"])
        for name, config in recipe.sizes.items()
    )
    parameters, steps = zip(*by_size, strict=True)
    assert len(set(parameters)) == len(parameters)
    assert list(steps) == sorted(set(steps))
