"""DPO: the loss against the paper's formula, preferences learned on a tiny model, exact resume,
an SFT adapter as the reference, the pair builder's kinds, and the CLI end to end."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.documents.grounding import grounded_question
from backend.wire import Source
from tests.training.conftest import random_lora, tiny_finetune_config
from training.dpo import DpoConfig, dpo, dpo_loss, encode_pairs, preference_loss, reply_logps
from training.dpo_data import (
    PAIR_KINDS,
    PreferencePair,
    encode_reply,
    split_pairs,
    write_pairs,
)
from training.dpo_pairs import cited_numbers, parse_sources, preference_pairs
from training.errors import TrainingError
from training.finetune import (
    FinetuneConfig,
    adapter_state,
    collate,
    finetune,
    load_adapter,
    load_base,
    reply_loss,
)
from training.finetune_data import IGNORE_INDEX, write_conversations
from training.smol.voice import REFUSAL

_THINGS = ("fire", "book", "garden", "river", "letter", "bread", "cat", "dog")
_COLOURS = ("red", "blue", "green", "brown", "white", "black")


def colour_pairs(count: int, seed: int) -> list[PreferencePair]:
    """A question with one right colour (chosen) and another (rejected)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        index = int(rng.integers(len(_THINGS)))
        thing, colour = _THINGS[index], _COLOURS[index % len(_COLOURS)]
        wrong = _COLOURS[(index + 1 + int(rng.integers(len(_COLOURS) - 1))) % len(_COLOURS)]
        pairs.append(
            PreferencePair(
                [{"role": "user", "content": f"What colour is the {thing}?"}],
                f"The {thing} is {colour}.",
                f"The {thing} is {wrong}.",
                "wrong-colour",
            )
        )
    return pairs


def dpo_config() -> FinetuneConfig:
    """30 steps that learn the colours steadily whatever the seed (1e-2 overshoots)."""
    return tiny_finetune_config(steps=30, eval_every=15, learning_rate=5e-3, warmup_steps=5)


def numpy_dpo(
    pc: list[float], pr: list[float], rc: list[float], rr: list[float], beta: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rafailov et al. (2023), eq. 7, per pair: -log sigmoid(beta * (h_w - h_l)), with
    h = log pi(y|x) - log pi_ref(y|x); and the implicit rewards beta * h."""
    h_w, h_l = np.subtract(pc, rc), np.subtract(pr, rr)
    return np.log1p(np.exp(-beta * (h_w - h_l))), beta * h_w, beta * h_l


@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
def test_loss_matches_the_papers_formula(beta: float) -> None:
    pc, pr = [-12.3, -4.0, -30.5, -7.25], [-15.1, -3.2, -29.0, -7.0]
    rc, rr = [-13.0, -4.5, -28.0, -9.0], [-14.0, -3.0, -31.0, -6.5]
    expected, chosen, rejected = numpy_dpo(pc, pr, rc, rr, beta)
    policy_chosen = torch.tensor(pc, dtype=torch.float64, requires_grad=True)
    terms = dpo_loss(
        policy_chosen,
        torch.tensor(pr, dtype=torch.float64),
        torch.tensor(rc),
        torch.tensor(rr),
        beta,
    )
    np.testing.assert_allclose(terms.losses.detach().numpy(), expected, rtol=1e-9)
    np.testing.assert_allclose(terms.chosen_rewards.numpy(), chosen, rtol=1e-9)
    np.testing.assert_allclose(terms.rejected_rewards.numpy(), rejected, rtol=1e-9)
    stats = terms.stats()
    assert stats.loss == pytest.approx(expected.mean())
    assert stats.margin == pytest.approx((chosen - rejected).mean())
    assert stats.accuracy == pytest.approx(np.mean(chosen > rejected))
    # d(-log sigmoid(z))/d(log p_w) = -beta * (1 - sigmoid(z)): raising the chosen reply's
    # probability must lower the loss.
    terms.losses.sum().backward()
    z = chosen - rejected
    np.testing.assert_allclose(policy_chosen.grad.numpy(), -beta / (1 + np.exp(z)), rtol=1e-9)


def test_reference_terms_cancel_when_policy_is_the_reference() -> None:
    policy_chosen, policy_rejected = torch.tensor([-3.0, -40.0]), torch.tensor([-9.5, -2.0])
    terms = dpo_loss(policy_chosen, policy_rejected, policy_chosen, policy_rejected, beta=0.3)
    np.testing.assert_allclose(terms.losses.numpy(), [math.log(2)] * 2, rtol=1e-6)
    assert terms.stats().margin == 0.0 and terms.stats().accuracy == 0.0


def test_reply_logps_sum_the_reply_tokens_only(tiny_base: Path) -> None:
    base = load_base(tiny_base)
    pair = colour_pairs(1, 0)[0]
    prompt = [
        {"role": "system", "content": "Be brief."},
        *pair.conversation("Hello."),
        *pair.messages,
    ]
    examples = [
        encode_reply(prompt, reply, base.render, base.tokenize) for reply in (pair.chosen, "No.")
    ]
    for example, reply in zip(examples, (pair.chosen, "No."), strict=True):
        labelled = [t for t in example.labels if t != IGNORE_INDEX]
        assert base.tokenizer.decode(labelled) == f"{reply}<|im_end|>\n"
    batch = collate(examples, pad_id=0)
    with torch.no_grad():
        got = reply_logps(base.model, batch)
        logprobs = torch.log_softmax(base.model(input_ids=batch["input_ids"]).logits, -1)
    for row, example in enumerate(examples):
        expected = sum(
            float(logprobs[row, t - 1, label])
            for t, label in enumerate(example.labels)
            if label != IGNORE_INDEX
        )
        assert float(got[row]) == pytest.approx(expected, rel=1e-4)


@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Path:
    run = tmp_path_factory.mktemp("dpo")
    config = dpo_config()
    dpo(
        run,
        load_base(tiny_base),
        colour_pairs(64, 0),
        colour_pairs(16, 1),
        config,
        DpoConfig(0.5),
        show_progress=False,
    )
    return run


def _log_ratio(model: torch.nn.Module, pairs: list[PreferencePair], base_path: Path) -> float:
    """Mean log p(chosen) - log p(rejected) over `pairs`."""
    base = load_base(base_path)
    chosen = [encode_reply(p.messages, p.chosen, base.render, base.tokenize) for p in pairs]
    rejected = [encode_reply(p.messages, p.rejected, base.render, base.tokenize) for p in pairs]
    with torch.no_grad():
        return float(
            (
                reply_logps(model, collate(chosen, 0)) - reply_logps(model, collate(rejected, 0))
            ).mean()
        )


def test_dpo_learns_the_preferences(dpo_run: Path, tiny_base: Path) -> None:
    history = json.loads((dpo_run / "history.json").read_text())
    assert history["eval_steps"] == [0, 15, 30]
    # The policy starts as the reference: every held-out pair's loss is log 2.
    assert history["eval_loss"][0] == pytest.approx(math.log(2), rel=1e-5)
    assert history["eval_margin"][0] == pytest.approx(0.0, abs=1e-5)
    assert history["eval_loss"][-1] < 0.3 * math.log(2)
    assert history["eval_margin"][-1] > 2.0
    assert history["eval_accuracy"][-1] >= 0.9
    assert np.mean(history["train_loss"][-5:]) < 0.5 * np.mean(history["train_loss"][:5])
    assert np.mean(history["train_accuracy"][-5:]) > 0.9

    # Measured without the run's own bookkeeping: the adapter's log-ratio of chosen to rejected
    # on held-out pairs grew by more than the margin needs, against the base's.
    base = load_base(tiny_base)
    model = random_lora(base, std=0.0)
    load_adapter(model, torch.load(dpo_run / "finetune.pt", weights_only=True)["adapter"])
    heldout = colour_pairs(16, 1)
    trained = _log_ratio(model, heldout, tiny_base)
    with model.disable_adapter():
        before = _log_ratio(model, heldout, tiny_base)
    assert trained - before > 2.0 / 0.5


def test_sft_weight_adds_the_chosen_replies_mean_token_nll(tiny_base: Path) -> None:
    base = load_base(tiny_base)
    model = random_lora(base, std=0.2).eval()
    encoded = encode_pairs(base, colour_pairs(3, 0), max_tokens=64)
    terms = preference_loss(model, adapter_state(model), encoded, pad_id=0, beta=0.5)
    with torch.no_grad():
        nll = [
            float(total) / count
            for total, count in (reply_loss(model, collate([chosen], 0)) for chosen, _ in encoded)
        ]
    # The policy is its own reference, so DPO's part is log 2; the rest is the reference NLL.
    assert float(terms.objective(0.0).detach()) == pytest.approx(math.log(2), rel=1e-5)
    expected = math.log(2) + 0.7 * np.mean(nll)
    assert float(terms.objective(0.7).detach()) == pytest.approx(expected, rel=1e-5)
    assert terms.stats().chosen_nll == pytest.approx(np.mean(nll), rel=1e-5)


def test_sft_weight_keeps_the_chosen_replies_likely(
    tmp_path: Path, tiny_base: Path, dpo_run: Path
) -> None:
    dpo(
        tmp_path,
        load_base(tiny_base),
        colour_pairs(64, 0),
        colour_pairs(16, 1),
        dpo_config(),
        DpoConfig(0.5, sft_weight=1.0),
        show_progress=False,
    )
    plain = json.loads((dpo_run / "history.json").read_text())
    weighted = json.loads((tmp_path / "history.json").read_text())
    assert weighted["eval_chosen_nll"][0] == pytest.approx(plain["eval_chosen_nll"][0])
    # Measured: DPO alone 12.1 -> 11.4 nats a token, with the NLL term 12.1 -> 2.6.
    assert weighted["eval_chosen_nll"][-1] < 0.5 * plain["eval_chosen_nll"][-1]
    assert weighted["eval_accuracy"][-1] >= 0.75  # and it still learns the preferences


def test_resume_continues_exactly(tmp_path: Path, tiny_base: Path, dpo_run: Path) -> None:
    run = tmp_path / "run"
    train, heldout = colour_pairs(64, 0), colour_pairs(16, 1)
    config = dpo_config()
    dpo(
        run,
        load_base(tiny_base),
        train,
        heldout,
        config,
        DpoConfig(0.5),
        until_step=12,
        show_progress=False,
    )
    resumed = dpo(
        run,
        load_base(tiny_base),
        train,
        heldout,
        config,
        DpoConfig(0.5),
        resume=True,
        show_progress=False,
    )
    straight = torch.load(dpo_run / "finetune.pt", weights_only=True)
    assert resumed.step == 30
    for name, tensor in adapter_state(resumed.model).items():
        torch.testing.assert_close(tensor, straight["adapter"][name], rtol=1e-5, atol=1e-6)
    for key, values in straight["history"].items():
        assert resumed.history.to_dict()[key] == pytest.approx(values, rel=1e-4, abs=1e-6), key
    with pytest.raises(TrainingError, match="dpo"):
        finetune(run, load_base(tiny_base), [], [], config, resume=True, show_progress=False)


def _sft_run(folder: Path, tiny_base: Path) -> Path:
    """A run folder holding a large random adapter, as `finetune` would leave one."""
    base = load_base(tiny_base)
    model = random_lora(base, std=0.2)
    folder.mkdir()
    config = tiny_finetune_config(rank=4, alpha=8.0)
    torch.save(
        {
            "adapter": adapter_state(model),
            "config": config.__dict__,
            "num_heads": base.num_heads,
            "num_kv_heads": base.num_kv_heads,
            "base": str(tiny_base),
        },
        folder / "finetune.pt",
    )
    return folder


def test_an_sft_adapter_is_the_start_and_the_reference(tmp_path: Path, tiny_base: Path) -> None:
    sft = _sft_run(tmp_path / "sft", tiny_base)
    start = torch.load(sft / "finetune.pt", weights_only=True)["adapter"]
    config = tiny_finetune_config(steps=2, rank=8, alpha=4.0, eval_every=2)
    trainer = dpo(
        tmp_path / "dpo",
        load_base(tiny_base),
        colour_pairs(16, 0),
        colour_pairs(8, 1),
        config,
        DpoConfig(0.5),
        start_run=sft,
        show_progress=False,
    )
    # The policy starts as the SFT adapter and is measured against it, not against the base
    # (whose replies this random adapter changes a lot): the first loss is exactly log 2.
    assert trainer.history.eval_loss[0] == pytest.approx(math.log(2), rel=1e-5)
    assert trainer.history.train_loss[0] == pytest.approx(math.log(2), rel=1e-5)
    payload = torch.load(tmp_path / "dpo" / "finetune.pt", weights_only=True)
    assert payload["config"]["rank"] == 4 and payload["config"]["alpha"] == 8.0
    for name, tensor in start.items():
        torch.testing.assert_close(payload["reference"][name], tensor)
    moved = max(float((payload["adapter"][n] - t).abs().max()) for n, t in start.items())
    assert moved > 0


_PASSAGES = (
    "Pinning a node keeps it at a given position.\n\nThe layout then leaves it there.",
    "Edges are drawn as splines unless splines=false is set.",
    "A cluster is a subgraph whose name starts with cluster.",
)


def grounded_conversation(question: str, answer: str) -> list[dict[str, str]]:
    """A smol-data style example: the backend's prompt over three numbered passages."""
    sources = [
        Source(
            n=n,
            collection="",
            path=f"doc{n}.txt",
            start_line=1,
            end_line=3,
            snippet=text,
            score=0.0,
        )
        for n, text in enumerate(_PASSAGES, start=1)
    ]
    return [
        {"role": "user", "content": grounded_question(question, sources)},
        {"role": "assistant", "content": answer},
    ]


def test_pair_builder_makes_every_kind() -> None:
    answer = "Pinning a node keeps it at a given position [1]. The layout leaves it there [1]."
    refusals = [f"{REFUSAL}: none of them describes ports.", f"{REFUSAL}: nor layers."]
    examples = [
        grounded_conversation("What does pinning do?", answer),
        grounded_conversation("How are edges drawn?", "Edges are splines by default [2]."),
        grounded_conversation("What is a port?", refusals[0]),
        grounded_conversation("What is a layer?", refusals[1]),
        [{"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hi [1]."}],
    ]
    sources = parse_sources(examples[0][0]["content"])
    assert sources is not None and sources[1] == _PASSAGES[0] and sources[3] == _PASSAGES[2]
    pairs = preference_pairs(examples, seed=1)
    assert {p.kind for p in pairs} == set(PAIR_KINDS)
    # Each answer makes one of each kind (the one-sentence answer no cut-short one), a refusal
    # one, the chat none.
    assert len(pairs) == 2 * len(PAIR_KINDS) + 2 - 1
    # Declining is preferred to stating a source's sentence as the answer it does not hold.
    declined = [p for p in pairs if p.chosen in refusals]
    assert [p.messages for p in declined] == [examples[2][:1], examples[3][:1]]
    for pair in declined:
        cited = cited_numbers(pair.rejected)
        assert pair.kind == "hallucinated" and len(cited) == 1
        assert _PASSAGES[min(cited) - 1].split(".")[0] in pair.rejected
        pairs.remove(pair)
    for pair in pairs:
        assert pair.rejected != pair.chosen and pair.rejected.strip()
        assert pair.messages[-1]["role"] == "user" and pair.chosen in (
            answer,
            "Edges are splines by default [2].",
        )
        if pair.kind == "uncited":
            assert not re.search(r"\[\d", pair.rejected)
            assert pair.rejected == re.sub(r" \[\d\]", "", pair.chosen)
        elif pair.kind == "hallucinated":
            cited = cited_numbers(pair.rejected)
            invented = cited and min(cited) > len(_PASSAGES)
            uncited_passages = [
                text
                for n, text in enumerate(_PASSAGES, start=1)
                if n not in cited_numbers(pair.chosen)
            ]
            distractor = any(text.split(".")[0] in pair.rejected for text in uncited_passages)
            assert invented or (distractor and cited == cited_numbers(pair.chosen)), pair.rejected
        elif pair.kind == "padded":
            assert pair.rejected.startswith(pair.chosen + " Also, ")
            added = pair.rejected.removeprefix(pair.chosen)
            assert cited_numbers(added) == {min(cited_numbers(pair.chosen))}
            assert any(text.split(" ", 1)[1].split(".")[0] in added for text in _PASSAGES)
        elif pair.kind == "over-refusing":
            assert pair.rejected.startswith(REFUSAL) and not cited_numbers(pair.rejected)
        elif pair.kind == "cut-short":
            assert pair.chosen == answer
            assert pair.rejected == "Pinning a node keeps it at a given position [1]."
        else:
            first = pair.chosen.split(". ")[0].rstrip(".") + "."
            assert pair.rejected.count(first) >= 4 and pair.rejected.startswith(first)
    # Over-refusing pairs: one per answered example, or as many per refusal as asked.
    every = preference_pairs(examples[:3] * 5, seed=3)
    assert Counter(p.kind for p in every)["over-refusing"] == 10
    assert Counter(p.kind for p in every if p.chosen == refusals[0]) == {"hallucinated": 5}
    balanced = preference_pairs(examples[:3] * 5, seed=3, over_refusing_per_refusal=1)
    assert Counter(p.kind for p in balanced)["over-refusing"] == 5
    heavier = preference_pairs(examples[:3] * 5, seed=3, over_refusing_per_refusal=1.6)
    assert Counter(p.kind for p in heavier)["over-refusing"] == 8
    capped = preference_pairs(examples[:3] * 5, seed=3, over_refusing_per_refusal=100)
    assert Counter(p.kind for p in capped)["over-refusing"] == 10  # one per answered example
    # Both variants of a hallucination come up over enough examples.
    many = preference_pairs(examples[:2] * 10, kinds=["hallucinated"], seed=2)
    numbers = [min(cited_numbers(p.rejected)) for p in many]
    assert max(numbers) > len(_PASSAGES) and min(numbers) <= len(_PASSAGES)
    train, heldout = split_pairs(pairs, 0.5, seed=0)
    assert {len(train), len(heldout)} == {len(PAIR_KINDS), len(PAIR_KINDS) - 1}  # one prompt each
    assert {str(p.messages) for p in train}.isdisjoint(str(p.messages) for p in heldout)


def test_cli_makes_pairs_and_preference_tunes_an_sft_run(
    tmp_path: Path, tiny_base: Path, capsys: pytest.CaptureFixture
) -> None:
    from llama_cpp import Llama

    from training.cli import main

    answers = (
        "Pinning keeps a node in place [1].",
        "Edges are splines [2].",
        "Clusters are subgraphs [3].",
    )
    examples = [grounded_conversation(f"Question {i}?", answers[i % 3]) for i in range(6)]
    sft_data = write_conversations(tmp_path / "sft.jsonl", examples)
    pairs = tmp_path / "pairs.jsonl"
    assert (
        main(
            [
                "dpo-pairs",
                "--data",
                str(sft_data),
                "--out",
                str(pairs),
                "--kinds",
                "uncited",
                "repetitive",
            ]
        )
        == 0
    )
    assert "6 uncited, 6 repetitive" in capsys.readouterr().out
    negative = ["dpo-pairs", "--data", str(sft_data), "--out", str(tmp_path / "no.jsonl")]
    assert main([*negative, "--over-refusing", "-1"]) == 2
    assert "--over-refusing must be 0 or more, not -1" in capsys.readouterr().err
    assert not (tmp_path / "no.jsonl").exists()
    common = [
        "--base",
        str(tiny_base),
        "--rank",
        "4",
        "--batch-size",
        "2",
        "--eval-every",
        "2",
        "--max-tokens",
        "512",
    ]
    sft = ["finetune", "--data", str(sft_data), "--out", str(tmp_path / "sft"), "--steps", "2"]
    assert main(sft + common) == 0
    run = tmp_path / "dpo"
    tune = ["dpo", "--data", str(pairs), "--out", str(run), "--steps", "3", "--beta", "0.2"]
    start = [*common, "--adapter", str(tmp_path / "sft"), "--eval-fraction", "0.2"]
    assert main([*tune, *start, "--sft-weight", "-0.5"]) == 2
    assert "--sft-weight must be 0 or more, not -0.5" in capsys.readouterr().err
    assert main([*tune, *start, "--sft-weight", "0.5"]) == 0
    history = json.loads((run / "history.json").read_text())
    assert history["eval_steps"] == [0, 2, 3] and len(history["train_margin"]) == 3
    assert len(history["train_chosen_nll"]) == 3
    with closing(
        Llama(model_path=str(tiny_base), lora_path=str(run / "adapter.gguf"), verbose=False)
    ):
        pass
    merged = tmp_path / "merged.gguf"
    assert main(["finetune-export", str(run), "--out", str(merged), "--merge"]) == 0
    with closing(Llama(model_path=str(merged), verbose=False)):
        pass
    capsys.readouterr()
    bad = write_pairs(
        tmp_path / "bad.jsonl", [PreferencePair([{"role": "user", "content": "x"}], "a", "a")]
    )
    assert (
        main(["dpo", "--data", str(bad), "--out", str(tmp_path / "bad"), "--base", str(tiny_base)])
        == 2
    )
    assert "two different replies" in capsys.readouterr().err
    # The SFT adapter brings its LoRA shape: another one beside it is refused, not ignored.
    other = [*tune[:4], str(tmp_path / "dpo-other"), *tune[5:], *common, "--alpha", "99"]
    assert main([*other, "--adapter", str(tmp_path / "sft")]) == 2
    assert "--alpha 99 differs from" in capsys.readouterr().err
