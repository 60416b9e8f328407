"""Exported GGUF files run in llama.cpp with torch's logits, and damaged files are refused."""

from __future__ import annotations

import time
from contextlib import closing
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch
from llama_cpp import Llama

from backend.models.gguf_info import InvalidGgufError, read_gguf_info
from tests.training.conftest import TrainedRun
from training.checkpoint import CHECKPOINT_NAME, read_trained_model
from training.cli import main
from training.export import ExportMismatchError, verify_export
from training.models.decoder import build_model
from training.testing import build_tiny_gguf

PROMPT_IDS = [5, 17, 42, 99, 3, 250, 77, 8, 120, 64, 31, 200]


def torch_logits(run: TrainedRun, ids: list[int]) -> np.ndarray:
    """The trained model's logits (T, vocab), its weights rounded to f16 as the file holds them."""
    config, state = read_trained_model(run.folder / CHECKPOINT_NAME)
    model = build_model(config)
    model.load_state_dict({k: v.half().float() for k, v in state.items()})
    model.eval()
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].numpy()


def llama_logits(path: Path, ids: list[int]) -> np.ndarray:
    with closing(Llama(model_path=str(path), n_ctx=64, logits_all=True, verbose=False)) as llm:
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)])


def test_llama_cpp_and_torch_agree_on_every_position(
    trained_run: TrainedRun, exported: Path
) -> None:
    expected = torch_logits(trained_run, PROMPT_IDS)
    actual = llama_logits(exported, PROMPT_IDS)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual.argmax(-1), expected.argmax(-1))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-2)
    assert np.abs(expected).max() > 1.0, "trained logits should be far from uniform"


def test_export_records_the_architecture(trained_run: TrainedRun, exported: Path) -> None:
    info = read_gguf_info(exported)
    config = trained_run.model_config
    assert info.architecture == "llama"
    assert info.quantization == "F16"
    assert info.expert_count == config.num_experts
    assert info.chat_template and "<|im_start|>" in info.chat_template


def test_exported_model_generates_what_torch_generates(
    trained_run: TrainedRun, exported: Path
) -> None:
    prompt = PROMPT_IDS[:4]
    with closing(Llama(model_path=str(exported), n_ctx=64, verbose=False)) as llm:
        generated = list(islice(llm.generate(prompt, temp=0.0, top_k=1), 8))
    ids = list(prompt)  # torch's greedy continuation, one token at a time
    for _ in range(8):
        ids.append(int(torch_logits(trained_run, ids)[-1].argmax()))
    assert generated == ids[len(prompt) :]


def test_truncated_export_is_refused(
    trained_run: TrainedRun, exported: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(exported.read_bytes()[: exported.stat().st_size // 2])
    with pytest.raises(InvalidGgufError, match="truncated"):
        verify_export(broken, trained_run.model_config)


def test_foreign_file_is_refused_by_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model at all" * 100)
    (tmp_path / "heldout.txt").write_text("the cat sees the fire.", encoding="utf-8")
    assert main(["quantize-report", str(fake), "--text", str(tmp_path / "heldout.txt")]) == 2
    assert "not a GGUF file" in capsys.readouterr().err


def test_export_of_a_different_model_is_caught(trained_run: TrainedRun, exported: Path) -> None:
    wider = trained_run.model_config.replace(num_layers=3)
    with pytest.raises(ExportMismatchError, match="block_count is 2, expected 3"):
        verify_export(exported, wider)


def test_tiny_random_fixture_still_builds_quickly(tmp_path: Path) -> None:
    started = time.perf_counter()
    path = build_tiny_gguf(tmp_path / "tiny-moe.gguf", moe=True)
    assert time.perf_counter() - started < 5.0
    assert read_gguf_info(path).expert_count == 4
