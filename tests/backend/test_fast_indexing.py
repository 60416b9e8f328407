"""The fast indexing setting: chunks embedded shorter, queries at full length."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.documents.library import DocumentLibrary
from backend.embeddings.minilm import MiniLmEmbedder
from backend.paths import HomeLayout
from backend.settings import Settings

# About 165 word pieces: one chunk, longer than the fast mode reads.
LONG = " ".join(["Rivers cross the valley and mountains rise behind them."] * 15)


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    return MiniLmEmbedder.load()


def test_fast_indexing_embeds_chunks_shorter_and_queries_in_full(
    tmp_path: Path, embedder: MiniLmEmbedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "long.txt").write_text(LONG + "\n")
    query = "rivers in the valley"
    found = {}
    for fast in (False, True):
        home = HomeLayout(tmp_path / f"home-{fast}").ensure()
        library = DocumentLibrary(home, Settings(threads=1, fast_indexing=fast))
        try:
            list(library.add("docs", [folder]))
            hit = library.search(query, ["docs"], k=1, mode="dense")[0]
        finally:
            library.close()
        found[fast] = hit
    assert found[True].text == found[False].text == LONG
    assert 126 < embedder.count_tokens([LONG])[0] <= 180
    query_vector = embedder.embed([query])[0]
    for fast, model in ((False, embedder), (True, embedder.shortened())):
        expected = float(model.embed([LONG])[0] @ query_vector)
        assert found[fast].similarity == pytest.approx(expected, abs=1e-4)
    assert found[True].similarity != pytest.approx(found[False].similarity, abs=1e-4)
