"""LoRA fine-tuning: replies-only loss, held-out loss going down, exact resume, and adapters that
llama.cpp applies with the same result as torch."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.training.conftest import random_lora, tiny_finetune_config
from training.finetune import adapter_state, finetune, load_base
from training.finetune_data import IGNORE_INDEX, encode_conversation, write_conversations
from training.finetune_export import export_adapter, export_merged

_THINGS = ("fire", "book", "garden", "river", "letter", "bread", "cat", "dog")
_COLOURS = ("red", "blue", "green", "brown", "white", "black")


def conversations(count: int, seed: int) -> list[list[dict[str, str]]]:
    """Questions with one fixed answer each: learnable by a tiny model in a few steps."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        thing = _THINGS[int(rng.integers(len(_THINGS)))]
        colour = _COLOURS[_THINGS.index(thing) % len(_COLOURS)]
        out.append(
            [
                {"role": "user", "content": f"What colour is the {thing}?"},
                {"role": "assistant", "content": f"The {thing} is {colour}."},
            ]
        )
    return out


@pytest.fixture(scope="module")
def finetuned_run(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Path:
    run = tmp_path_factory.mktemp("run")
    finetune(
        run,
        load_base(tiny_base),
        conversations(64, 0),
        conversations(16, 1),
        tiny_finetune_config(),
        show_progress=False,
    )
    return run


def test_only_assistant_replies_carry_loss(tiny_base: Path) -> None:
    base = load_base(tiny_base)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What colour is the fire?"},
        {"role": "assistant", "content": "The fire is red."},
        {"role": "user", "content": "And the river?"},
        {"role": "assistant", "content": "The river is blue."},
    ]
    example = encode_conversation(messages, base.render, base.tokenize, 512)
    assert len(example.labels) == len(example.input_ids)
    trained = [
        t
        for t, label in zip(example.input_ids, example.labels, strict=True)
        if label != IGNORE_INDEX
    ]
    assert all(
        label in (IGNORE_INDEX, t)
        for t, label in zip(example.input_ids, example.labels, strict=True)
    )
    text = base.tokenizer.decode(trained)
    assert text == "The fire is red.<|im_end|>\nThe river is blue.<|im_end|>\n"
    # The whole sequence is the conversation exactly as the backend renders it.
    assert base.tokenizer.decode(example.input_ids) == base.render(messages, False)


def test_finetuning_lowers_heldout_loss(finetuned_run: Path) -> None:
    history = json.loads((finetuned_run / "history.json").read_text())
    assert history["eval_steps"] == [0, 12, 24]
    assert history["eval_loss"][-1] < 0.5 * history["eval_loss"][0]
    assert (finetuned_run / "loss.png").stat().st_size > 0


def test_resume_continues_exactly(tmp_path: Path, tiny_base: Path, finetuned_run: Path) -> None:
    run = tmp_path / "run"
    train, heldout, config = conversations(64, 0), conversations(16, 1), tiny_finetune_config()
    finetune(run, load_base(tiny_base), train, heldout, config, until_step=10, show_progress=False)
    resumed = finetune(
        run, load_base(tiny_base), train, heldout, config, resume=True, show_progress=False
    )
    straight = torch.load(finetuned_run / "finetune.pt", weights_only=True)
    assert resumed.step == 24
    for name, tensor in adapter_state(resumed.model).items():
        torch.testing.assert_close(tensor, straight["adapter"][name], rtol=1e-5, atol=1e-6)
    for key, values in straight["history"].items():
        assert resumed.history.to_dict()[key] == pytest.approx(values, rel=1e-5), key


def _llama_logits(model: Path, tokens: list[int], lora: Path | None = None) -> np.ndarray:
    from llama_cpp import Llama

    kwargs = {"lora_path": str(lora)} if lora else {}
    with closing(Llama(model_path=str(model), logits_all=True, verbose=False, **kwargs)) as llm:
        llm.eval(tokens)
        return np.array(llm.scores[: len(tokens)])


def test_llama_cpp_applies_the_adapter_like_torch(tmp_path: Path, tiny_base: Path) -> None:
    base = load_base(tiny_base)
    model = random_lora(base, std=0.2)
    run = tmp_path / "run"
    run.mkdir()
    torch.save(
        {
            "adapter": adapter_state(model),
            "config": tiny_finetune_config().__dict__,
            "num_heads": base.num_heads,
            "num_kv_heads": base.num_kv_heads,
            "base": str(tiny_base),
        },
        run / "finetune.pt",
    )
    adapter = export_adapter(run, tmp_path / "adapter.gguf", name="tiny-lora", half=False)
    assert adapter.general_type == "adapter"
    tokens = base.tokenize(base.render(conversations(1, 4)[0], False))
    with torch.no_grad():
        expected = model(torch.tensor([tokens])).logits[0].numpy()
    plain = _llama_logits(tiny_base, tokens)
    adapted = _llama_logits(tiny_base, tokens, tmp_path / "adapter.gguf")
    change = np.abs(expected - plain).max()
    assert change > 0.5, "the random adapter should move the logits a lot"
    assert np.abs(adapted - expected).max() < 0.02 * change
    assert (adapted.argmax(-1) == expected.argmax(-1)).all()

    merged = export_merged(run, tmp_path / "merged.gguf")
    assert merged.general_type == "model"
    assert np.abs(_llama_logits(tmp_path / "merged.gguf", tokens) - expected).max() < 0.02 * change


def test_cli_finetunes_and_writes_an_adapter(tmp_path: Path, tiny_base: Path) -> None:
    from llama_cpp import Llama

    from training.cli import main

    data = write_conversations(tmp_path / "train.jsonl", conversations(40, 2))
    code = main(
        [
            "finetune",
            "--base",
            str(tiny_base),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--rank",
            "4",
            "--steps",
            "4",
            "--batch-size",
            "4",
            "--eval-every",
            "2",
            "--eval-fraction",
            "0.1",
        ]
    )
    assert code == 0
    adapter = tmp_path / "run" / "adapter.gguf"
    with closing(Llama(model_path=str(tiny_base), lora_path=str(adapter), verbose=False)):
        pass
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    assert (
        main(
            [
                "finetune",
                "--base",
                str(tiny_base),
                "--data",
                str(bad),
                "--out",
                str(tmp_path / "bad"),
            ]
        )
        == 2
    )
