"""llama.cpp quantizes exported models; every level loads and reports its perplexity."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from backend.models.gguf_info import read_gguf_info
from tests.training.conftest import (
    TrainedRun,
    one_line_error,
    synthetic_text,
    tiny_model_config,
    write_corpus,
)
from training.cli import main
from training.export import export_gguf
from training.models.decoder import build_model
from training.quantize import QuantizationError, quant_levels, quantize_gguf
from training.testing import build_tiny_gguf


def test_quantize_report_lists_each_level_with_a_sane_perplexity(
    trained_run: TrainedRun, exported: Path, capsys: pytest.CaptureFixture
) -> None:
    heldout = trained_run.folder / "unseen.txt"
    heldout.write_text(synthetic_text(seed=99, sentences=40), encoding="utf-8")
    assert main(["quantize-report", str(exported), "--text", str(heldout)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"F16", "Q8_0", "Q4_0"}  # 64-wide rows do not fill k-quant blocks
    perplexities = {level: float(row[3]) for level, row in rows.items()}
    vocab = trained_run.model_config.vocab_size
    assert all(1.0 < p < vocab / 4 for p in perplexities.values()), perplexities
    assert math.isclose(perplexities["Q8_0"], perplexities["F16"], rel_tol=0.05)
    for level in ("Q8_0", "Q4_0"):
        quantized = exported.with_name(f"model-{level}.gguf")
        assert read_gguf_info(quantized).quantization == level
        assert quantized.stat().st_size < exported.stat().st_size


def test_rows_of_256_get_q4_k_m(tmp_path: Path) -> None:
    from training.data import read_texts
    from training.tokenizer import train_bpe

    tokenizer = train_bpe(read_texts([write_corpus(tmp_path / "c", files=1)]), vocab_size=300)
    config = tiny_model_config(300, hidden_size=256, intermediate_size=256, num_layers=1)
    torch.manual_seed(0)
    state = build_model(config).state_dict()
    source = tmp_path / "wide-f16.gguf"
    export_gguf(state, config, tokenizer.to_str(), source, name="wide")
    levels = quant_levels(source)
    assert [level.name for level in levels] == ["Q8_0", "Q4_K_M"]
    assert read_gguf_info(quantize_gguf(source, levels[1])).quantization == "Q4_K_M"


def _truncated(folder: Path) -> Path:
    whole = build_tiny_gguf(folder / "whole-f16.gguf")
    cut = folder / "cut-f16.gguf"
    cut.write_bytes(whole.read_bytes()[:100_000])
    whole.unlink()
    return cut


def _text(folder: Path) -> Path:
    (folder / "notes.gguf").write_text("just some notes\n", encoding="utf-8")
    return folder / "notes.gguf"


def _folder(folder: Path) -> Path:
    return folder


@pytest.mark.parametrize(
    ("make_input", "complaint"),
    [(_truncated, "truncated"), (_text, "not a GGUF"), (_folder, "not a file")],
)
def test_quantize_refuses_a_damaged_input_in_one_line(
    make_input: Callable[[Path], Path],
    complaint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    source = make_input(tmp_path)
    before = set(tmp_path.iterdir())
    assert main(["quantize", str(source)]) == 2
    assert complaint in one_line_error(capsys)
    assert set(tmp_path.iterdir()) == before


def test_quantize_refuses_an_already_quantized_input_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source = build_tiny_gguf(tmp_path / "tiny-f16.gguf")
    q8 = quantize_gguf(source, quant_levels(source)[0])
    assert {p.name for p in tmp_path.iterdir()} == {"tiny-f16.gguf", "tiny-Q8_0.gguf"}
    capsys.readouterr()  # llama.cpp's log of making the Q8_0 file
    assert main(["quantize", str(q8)]) == 2
    err = one_line_error(capsys)
    assert "already quantized (Q8_0)" in err and "f16" in err
    assert {p.name for p in tmp_path.iterdir()} == {"tiny-f16.gguf", "tiny-Q8_0.gguf"}


def test_a_failed_quantization_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    def fail_halfway(source: bytes, target: bytes, params: object) -> int:
        Path(target.decode()).write_bytes(b"GGUF and then nothing")
        return 1

    source = build_tiny_gguf(tmp_path / "tiny-f16.gguf")
    level = quant_levels(source)[0]
    monkeypatch.setattr(llama_cpp, "llama_model_quantize", fail_halfway)
    with pytest.raises(QuantizationError):
        quantize_gguf(source, level)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-f16.gguf"]
