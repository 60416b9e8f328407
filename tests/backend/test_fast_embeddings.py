"""The embedder's fast indexing mode: chunks cut to a shorter length, same model."""

from __future__ import annotations

import numpy as np
import pytest

from backend.embeddings.minilm import (
    FAST_MAX_TOKENS,
    EmbedderConfig,
    MiniLmEmbedder,
    locate_files,
)

SHORT = ["The ferry leaves the harbour at seven each morning.", "How do I reset my password?"]
LONG = [
    " ".join(["Rivers cross the valley and mountains rise behind them."] * 30),
    " ".join(f"word{i}" for i in range(400)),
]


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    return MiniLmEmbedder.load()


def test_fast_mode_equals_an_embedder_with_the_shorter_length(embedder: MiniLmEmbedder) -> None:
    files = locate_files()
    shorter = MiniLmEmbedder(
        files["model"], files["tokenizer"], EmbedderConfig(max_tokens=FAST_MAX_TOKENS)
    )
    np.testing.assert_allclose(
        embedder.shortened().embed(SHORT + LONG), shorter.embed(SHORT + LONG), atol=1e-5
    )


def test_fast_mode_changes_only_texts_longer_than_its_length(embedder: MiniLmEmbedder) -> None:
    assert max(embedder.count_tokens(SHORT)) < FAST_MAX_TOKENS - 2
    assert min(embedder.count_tokens(LONG)) > FAST_MAX_TOKENS
    full = embedder.embed(LONG)
    short = embedder.shortened()
    np.testing.assert_allclose(short.embed(SHORT), embedder.embed(SHORT), atol=1e-5)
    similarity = np.sum(short.embed(LONG) * full, axis=1)
    assert np.all(similarity < 0.9999)  # the tail was not read
    # The embedder it came from still reads whole texts (its tokenizer was not shortened).
    assert embedder.config.max_tokens == 256
    np.testing.assert_allclose(embedder.embed(LONG), full, atol=1e-6)


def test_fast_mode_refuses_a_length_the_model_cannot_take(embedder: MiniLmEmbedder) -> None:
    with pytest.raises(ValueError, match="max_tokens must be from 3 to 256"):
        embedder.shortened(512)
