"""Grounded chat through a real backend: collections by API, answers with checkable sources.

Which model answers, how it samples (greedy from documents) and how a failed reply streams are
the turn's logic: test_chat_turn.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.chat.models import resolve_model
from backend.documents.grounding import NOTHING_FOUND
from backend.models.registry import UnknownModelError
from backend.server.services import Services
from backend.settings import Settings
from tests.backend.conftest import InProcessRealBackend, prepare_home, serve_real
from tests.backend.test_documents import make_corpus
from training.testing import build_tiny_gguf


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessRealBackend]:
    """A backend whose 'docs' collection was added through the API, streaming progress."""
    root = tmp_path_factory.mktemp("grounded")
    corpus = make_corpus(root / "docs")
    # Numbered sources make long prompts: the tiny model gets a context that holds them.
    model = build_tiny_gguf(root / "tiny-2k.gguf", context_length=2048)
    home = prepare_home(root / "home", model, context_size=2048, documents_model="tiny-docs")
    shutil.copy(model, home.models / "tiny-docs.gguf")  # stands in for hearth-smol
    backend = serve_real(home)
    try:  # a failed set-up must still close the runtime, or it outlives this module
        body = {"name": "docs", "paths": [str(corpus)], "stream": True}
        events = list(backend.client().stream_events("/hearth/documents/collections", body))
        assert events[0]["type"] == "planned" and events[-1]["type"] == "finished"
        assert events[-1]["files_done"] == events[-1]["files_total"] == 7
        yield backend
    finally:
        backend.stop()


def grounded_conversation(backend: InProcessRealBackend) -> str:
    with backend.http() as http:
        cid: str = http.post("/hearth/conversations", json={}).json()["id"]
        patched = http.patch(
            f"/hearth/conversations/{cid}",
            json={"collections": ["docs"], "settings": {"max_tokens": 12, "temperature": 0}},
        )
        assert patched.json()["collections"] == ["docs"]
    return cid


def test_answer_carries_the_sources_it_was_given(served: InProcessRealBackend) -> None:
    cid = grounded_conversation(served)
    with served.http() as http:
        question = {"content": "What is the lighthouse keeper's cat called?", "stream": False}
        reply = http.post(f"/hearth/conversations/{cid}/messages", json=question).json()
        stored = http.get(f"/hearth/conversations/{cid}").json()["messages"]
    assistant = reply["assistant"]
    assert assistant["status"] == "complete" and assistant["timings"]["completion_tokens"] > 0
    first = assistant["sources"][0]
    assert first["n"] == 1 and first["path"].endswith("guide.pdf") and first["page"] == 2
    assert "Biscuit" in first["snippet"] and first["similarity"] >= 0.3
    assert stored[1]["sources"] == assistant["sources"]
    assert stored[0]["content"] == question["content"]  # the prompt's sources are not stored


def test_nothing_relevant_gets_an_honest_reply_without_the_model(
    served: InProcessRealBackend,
) -> None:
    cid = grounded_conversation(served)
    client = served.client()
    path = f"/hearth/conversations/{cid}/messages"
    events = list(client.stream_events(path, {"content": "Explain gluon confinement in QCD."}))
    done = events[-1]["message"]
    assert [e["type"] for e in events] == ["stage", "user", "token", "done"]  # searching
    assert done["content"] == NOTHING_FOUND and done["sources"] == []
    assert done["model"] is None and done["timings"] is None  # no generation ran


def test_unknown_collections_are_refused(served: InProcessRealBackend) -> None:
    with served.http() as http:
        cid = http.post("/hearth/conversations", json={}).json()["id"]
        refused = http.patch(f"/hearth/conversations/{cid}", json={"collections": ["nope"]})
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "collection_not_found"
        assert http.get(f"/hearth/conversations/{cid}").json()["conversation"]["collections"] == []


def test_search_and_listing_routes(served: InProcessRealBackend) -> None:
    with served.http() as http:
        listed = http.get("/hearth/documents/collections").json()
        body = {"query": "paid leave", "collections": ["docs"], "k": 2, "mode": "bm25"}
        found = http.post("/hearth/documents/search", json=body).json()
        files = http.get("/hearth/documents/collections/docs").json()["files"]
    assert [c["name"] for c in listed] == ["docs"] and listed[0]["files"] == 6
    hits = found["hits"]
    assert found["dense"]["label"] == "100% indexed"  # the collection was indexed to the end
    assert found["dense"]["embedded"] == found["dense"]["chunks"] == listed[0]["chunks"]
    assert hits[0]["source"].endswith("handbook.docx") and hits[0]["headings"][-1] == "Holidays"
    assert {Path(f["path"]).name for f in files} >= {"guide.pdf", "ops.md"}


def test_cli_chat_with_a_collection(served: InProcessRealBackend) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "backend", "chat", "When does the backup server run?"]
        + ["--collection", "docs", "--json"],
        env=os.environ | {"HEARTH_HOME": str(served.layout.root)},
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(result.stdout)
    assert answer["status"] == "complete" and isinstance(answer["answer"], str)
    top = answer["sources"][0]
    assert top["path"].endswith("ops.md") and (top["start_line"], top["end_line"]) == (7, 8)


def test_cli_docs_goes_through_the_running_backend(
    served: InProcessRealBackend, tmp_path: Path
) -> None:
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "bees.md").write_text("# Bees\n\nThe hive holds forty thousand bees.\n")
    env = os.environ | {"HEARTH_HOME": str(served.layout.root)}
    hearth = [sys.executable, "-m", "backend", "docs"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*hearth, *args], env=env, capture_output=True, text=True, cwd=tmp_path
        )

    added = run("add", "extra", "--collection", "extra", "--json")  # relative to the CLI's cwd
    assert json.loads(added.stdout)["indexed"] == 1
    with served.http() as http:
        names = [c["name"] for c in http.get("/hearth/documents/collections").json()]
    assert names == ["docs", "extra"]  # the backend itself indexed it
    found = json.loads(run("search", "how many bees", "--collection", "extra", "--json").stdout)
    assert found[0]["source"] == str(tmp_path / "extra" / "bees.md") and found[0]["start_line"] == 3
    assert run("remove", "extra").returncode == 0
    missing = run("search", "bees", "--collection", "extra")
    assert missing.returncode == 1 and "No document collection named 'extra'" in missing.stderr


def test_the_default_answers_when_the_documents_model_is_not_installed(
    tmp_path: Path, tiny_gguf: Path
) -> None:
    layout = prepare_home(tmp_path / "home", tiny_gguf)
    settings = Settings(default_model=tiny_gguf.stem, documents_model="not-installed", threads=1)
    services = Services.open(layout, settings)
    try:
        chosen = resolve_model(services.provider, settings, None, with_documents=True)
        assert chosen.name == tiny_gguf.stem
        with pytest.raises(UnknownModelError):
            resolve_model(services.provider, settings, "not-installed", with_documents=True)
    finally:
        services.close()


def test_removing_a_collection_takes_it_out_of_its_chats(served: InProcessRealBackend) -> None:
    corpus = served.layout.root.parent / "docs"
    with served.http() as http:
        added = {"name": "gone", "paths": [str(corpus)]}
        assert http.post("/hearth/documents/collections", json=added).status_code < 300
        cid = http.post("/hearth/conversations", json={}).json()["id"]
        chosen = {"collections": ["gone", "docs"], "settings": {"max_tokens": 12}}
        http.patch(f"/hearth/conversations/{cid}", json=chosen)
        assert http.delete("/hearth/documents/collections/gone").status_code == 204
        chat = http.get(f"/hearth/conversations/{cid}").json()["conversation"]
        question = {"content": "What is the lighthouse keeper's cat called?", "stream": False}
        reply = http.post(f"/hearth/conversations/{cid}/messages", json=question)
    assert chat["collections"] == ["docs"]
    assert reply.status_code == 200 and reply.json()["assistant"]["sources"]
