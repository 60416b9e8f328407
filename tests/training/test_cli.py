"""`python -m training` takes a folder of text to a checked, quantized GGUF."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from backend.models.gguf_info import read_gguf_info
from tests.training.conftest import one_line_error
from training.cli import main

TINY_RECIPE = """
kind: decoder
model: {hidden_size: 32, intermediate_size: 64, num_layers: 2, num_heads: 4, num_kv_heads: 2,
        context_length: 64}
train: {max_steps: 4, batch_size: 4, seq_len: 16, warmup_steps: 2, eval_every: 2,
        eval_batches: 2, checkpoint_every: 2, heldout_fraction: 0.1, learning_rate: 0.01,
        device: cpu}
"""


def test_corpus_to_quantized_model(corpus_dir: Path, tmp_path: Path) -> None:
    recipe, tokenizer, run = tmp_path / "tiny.yaml", tmp_path / "tok.json", tmp_path / "run"
    recipe.write_text(TINY_RECIPE, encoding="utf-8")
    assert (
        main(
            [
                "tokenizer",
                "--input",
                str(corpus_dir),
                "--vocab-size",
                "320",
                "--out",
                str(tokenizer),
            ]
        )
        == 0
    )
    common = ["pretrain", "--recipe-file", str(recipe), "--tokenizer", str(tokenizer)]
    common += ["--data", str(corpus_dir), "--out", str(run)]
    assert main([*common, "--until-step", "2"]) == 0
    assert main([*common, "--resume"]) == 0
    assert (run / "loss.png").is_file()
    heldout = (run / "heldout.txt").read_text(encoding="utf-8")
    assert "." in heldout and "<|endoftext|>" not in heldout
    assert main(["export", str(run), str(tmp_path / "tiny-f16.gguf")]) == 0
    assert main(["quantize", str(tmp_path / "tiny-f16.gguf")]) == 0
    assert read_gguf_info(tmp_path / "tiny-Q8_0.gguf").quantization == "Q8_0"
    assert read_gguf_info(tmp_path / "tiny-Q4_0.gguf").quantization == "Q4_0"


def test_a_second_run_into_the_same_folder_is_refused_clearly(
    corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"")
    tokenizer = tmp_path / "tok.json"
    main(["tokenizer", "--input", str(corpus_dir), "--vocab-size", "300", "--out", str(tokenizer)])
    args = ["pretrain", "--recipe", "hearth-tiny", "--tokenizer", str(tokenizer)]
    assert main([*args, "--data", str(corpus_dir), "--out", str(tmp_path / "run")]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_export_without_a_checkpoint_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["export", str(tmp_path), str(tmp_path / "out.gguf")]) == 2
    assert "python -m training pretrain" in capsys.readouterr().err


def test_pretrain_refuses_a_tokenizer_that_is_not_tokenizer_json(
    corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n", encoding="utf-8")
    args = ["pretrain", "--recipe", "hearth-tiny", "--tokenizer", str(text)]
    assert main([*args, "--data", str(corpus_dir), "--out", str(tmp_path / "run")]) == 2
    assert f"{text} is not a tokenizer JSON" in one_line_error(capsys)


def test_pretrain_refuses_a_tokenizer_without_the_end_of_text_token(
    corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    plain = Tokenizer(models.BPE())  # a valid tokenizer JSON, trained without Hearth's tokens
    plain.pre_tokenizer = pre_tokenizers.ByteLevel()
    plain.train_from_iterator(["some text to learn from"], trainers.BpeTrainer(vocab_size=300))
    plain.save(str(tmp_path / "plain.json"))
    args = ["pretrain", "--recipe", "hearth-tiny", "--tokenizer", str(tmp_path / "plain.json")]
    assert main([*args, "--data", str(corpus_dir), "--out", str(tmp_path / "run")]) == 2
    assert "lacks <|endoftext|>" in one_line_error(capsys)


@pytest.mark.parametrize(
    "recipe_text",
    ["just some notes\n", "kind: decoder\nmodel: [1, 2]\n", "kind: [decoder\n"],
    ids=["plain text", "model is a list", "broken YAML"],
)
def test_pretrain_refuses_a_recipe_file_that_is_not_a_recipe(
    recipe_text: str,
    corpus_dir: Path,
    tokenizer: Tokenizer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    recipe, tokenizer_path = tmp_path / "recipe.yaml", tmp_path / "tok.json"
    recipe.write_text(recipe_text, encoding="utf-8")
    tokenizer.save(str(tokenizer_path))
    args = ["pretrain", "--recipe-file", str(recipe), "--tokenizer", str(tokenizer_path)]
    assert main([*args, "--data", str(corpus_dir), "--out", str(tmp_path / "run")]) == 2
    assert f"{recipe} is not" in one_line_error(capsys)
    assert not (tmp_path / "run").exists()
