"""The BPE tokenizer round-trips text, and llama.cpp splits text exactly as `tokenizers` does."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from llama_cpp import Llama
from tokenizers import Tokenizer

from tests.training.conftest import one_line_error
from training.cli import main
from training.gguf_export import write_gguf
from training.testing import random_weights, tiny_config
from training.tokenizer import IM_END, load_tokenizer

VARIED_TEXTS = (
    "Hello, world! The cat sees the fire.",
    "naïve café — déjà vu, Straße, smörgåsbord",
    "日本語のテキストと中文文本",
    "emoji 🔥🏠 by the hearth 👋🏽",
    "  leading spaces,\ttabs\n\nand blank lines  ",
    "numbers 3.14159, 42 and 2026-11-29",
    "def square(x):\n    return x ** 2  # comment\n",
    "unknown words: zyxwvut qqqq ÆØÅ",
)


@pytest.mark.parametrize("text", VARIED_TEXTS)
def test_encode_then_decode_returns_the_original_text(tokenizer: Tokenizer, text: str) -> None:
    ids = tokenizer.encode(text).ids
    assert tokenizer.decode(ids) == text


def test_special_tokens_stay_single_tokens(tokenizer: Tokenizer) -> None:
    ids = tokenizer.encode(f"done{IM_END}").ids
    assert ids[-1] == tokenizer.token_to_id(IM_END)


def test_llama_cpp_tokenizes_like_tokenizers(tokenizer: Tokenizer, tmp_path: Path) -> None:
    config = tiny_config(tokenizer.get_vocab_size())
    path = write_gguf(
        tmp_path / "vocab.gguf", config, random_weights(config), tokenizer.to_str(), name="vocab"
    )
    with closing(Llama(model_path=str(path), vocab_only=True, verbose=False)) as llm:
        for text in VARIED_TEXTS:
            expected = tokenizer.encode(text).ids
            assert llm.tokenize(text.encode(), add_bos=False, special=False) == expected, text
            assert llm.detokenize(expected).decode() == text


def test_cli_trains_and_saves_a_tokenizer(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tok" / "tokenizer.json"
    assert (
        main(["tokenizer", "--input", str(corpus_dir), "--vocab-size", "300", "--out", str(out)])
        == 0
    )
    loaded = load_tokenizer(out)
    assert loaded.get_vocab_size() == 300
    assert (
        loaded.decode(loaded.encode("the cat warms the river.").ids) == "the cat warms the river."
    )


def _empty_corpus(folder: Path) -> list[str]:
    (folder / "empty.txt").write_text("\n  \n", encoding="utf-8")
    return ["--input", str(folder / "empty.txt"), "--out", str(folder / "tok.json")]


def _tiny_vocabulary(folder: Path) -> list[str]:
    (folder / "text.txt").write_text("the cat sees the fire.\n", encoding="utf-8")
    args = ["--input", str(folder / "text.txt"), "--vocab-size", "0"]
    return [*args, "--out", str(folder / "tok.json")]


def _out_is_a_folder(folder: Path) -> list[str]:
    (folder / "text.txt").write_text("the cat sees the fire.\n", encoding="utf-8")
    return ["--input", str(folder / "text.txt"), "--out", str(folder)]


@pytest.mark.parametrize(
    ("make_args", "complaint"),
    [
        (_empty_corpus, "no text"),
        (_tiny_vocabulary, "at least 259"),
        (_out_is_a_folder, "is a folder"),
    ],
)
def test_cli_refuses_a_tokenizer_it_cannot_train_or_save(
    make_args: Callable[[Path], list[str]],
    complaint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    assert main(["tokenizer", *make_args(tmp_path)]) == 2
    assert complaint in one_line_error(capsys)
    assert not (tmp_path / "tok.json").exists()
