"""The `chroma_url` setting: the same collections, documents' and images', in a real Chroma
server (`chroma run`), and a library indexed on this machine moved there by a sync."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import httpx
import pytest

from backend.documents import vector_store
from backend.documents.library import DocumentLibrary
from backend.paths import HomeLayout
from backend.server.services import Services
from backend.settings import Settings
from tests.backend.conftest import TinyClip
from tests.backend.test_documents import make_corpus
from tests.backend.test_images_index import make_pictures


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1"]
        + ["--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "chroma run exited"
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).is_success:
                break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "chroma run did not start"
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(15)


def test_collections_live_in_the_chroma_server(
    chroma_server: str, hearth_home: Path, tmp_path: Path
) -> None:
    layout = HomeLayout(hearth_home).ensure()
    corpus = make_corpus(tmp_path / "docs")
    library = DocumentLibrary(layout, Settings(threads=2, chroma_url=chroma_server))
    events = list(library.add("remote", [corpus]))
    assert sum(e.type == "indexed" for e in events) == 6
    hit = library.search("What is the lighthouse keeper's cat called?", ["remote"], k=1)[0]
    assert hit.source == str(corpus / "guide.pdf") and hit.page == 2
    assert not layout.chroma.exists()  # nothing went to the embedded store

    port = int(chroma_server.rsplit(":", 1)[1])
    settings = chromadb.config.Settings(anonymized_telemetry=False)
    server = chromadb.HttpClient(host="127.0.0.1", port=port, settings=settings)
    stored = {c.name: c.count() for c in server.list_collections()}
    assert list(stored.values()) == [library.collections()[0].chunks]

    (corpus / "ops.md").unlink()
    assert [e.type for e in library.sync("remote") if e.type == "removed"] == ["removed"]
    library.remove("remote")
    assert server.list_collections() == []


def test_services_open_one_client_for_documents_and_images(
    chroma_server: str,
    hearth_home: Path,
    tmp_path: Path,
    tiny_clip: TinyClip,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layout = HomeLayout(hearth_home).ensure()
    tiny_clip.install(layout.root)
    opened: list[str | None] = []
    open_client = vector_store._open_client

    def counted(layout: HomeLayout, chroma_url: str | None) -> Any:
        opened.append(chroma_url)
        return open_client(layout, chroma_url)

    monkeypatch.setattr(vector_store, "_open_client", counted)
    settings = Settings(threads=2, chroma_url=chroma_server, image_model=tiny_clip.name)
    services = Services.open(layout, settings)
    try:
        list(services.documents.add("remote", [make_corpus(tmp_path / "docs")]))
        make_pictures(tmp_path / "photos", 3)
        assert services.images.index.index_all(tmp_path / "photos").embedded == 3
        assert services.documents.embedder is services.embedder.get()  # one embedder
        chunks = services.documents.collection("remote").chunks
    finally:
        services.close()
    assert opened == [chroma_server]  # one client, and it is the server's
    assert not layout.chroma.exists()

    port = int(chroma_server.rsplit(":", 1)[1])
    server = chromadb.HttpClient(
        host="127.0.0.1", port=port, settings=chromadb.config.Settings(anonymized_telemetry=False)
    )
    assert sorted(c.count() for c in server.list_collections()) == sorted([chunks, 3])


def _server_counts(url: str) -> list[int]:
    port = int(url.rsplit(":", 1)[1])
    settings = chromadb.config.Settings(anonymized_telemetry=False)
    server = chromadb.HttpClient(host="127.0.0.1", port=port, settings=settings)
    return [c.count() for c in server.list_collections()]


def test_a_library_moves_to_a_chroma_server_with_one_sync(
    chroma_server: str, hearth_home: Path, tmp_path: Path
) -> None:
    """README's "When your library outgrows this machine": set chroma_url, then `hearth docs
    sync`: no file is read again, the stored chunks are embedded into the server."""
    layout = HomeLayout(hearth_home).ensure()
    corpus = make_corpus(tmp_path / "docs")
    question = "What is the lighthouse keeper's cat called?"
    here = DocumentLibrary(layout, Settings(threads=2))
    try:
        list(here.add("mine", [corpus]))
        local = here.search(question, ["mine"], k=3, mode="dense")
        chunks = here.collection("mine").chunks
    finally:
        here.close()

    moved = DocumentLibrary(layout, Settings(threads=2, chroma_url=chroma_server))
    try:
        assert moved.search(question, ["mine"], k=3, mode="dense") == []  # nothing there yet
        events = list(moved.sync("mine"))
        remote = moved.search(question, ["mine"], k=3, mode="dense")
    finally:
        moved.close()
    assert events[-1].type == "finished"
    assert {e.type for e in events} >= {"unchanged"} and "indexed" not in {e.type for e in events}
    assert _server_counts(chroma_server) == [chunks]
    assert [(h.chunk_id, h.source, h.page) for h in remote] == [
        (h.chunk_id, h.source, h.page) for h in local
    ]
    assert remote[0].source == str(corpus / "guide.pdf") and remote[0].page == 2
