"""The `chroma_url` setting: the same collections in a real Chroma server (`chroma run`)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.documents.library import DocumentLibrary
from backend.paths import HomeLayout
from backend.settings import Settings
from tests.backend.test_documents import make_corpus


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
    assert sum(e.kind == "indexed" for e in events) == 6
    hit = library.search("What is the lighthouse keeper's cat called?", ["remote"], k=1)[0]
    assert hit.source == str(corpus / "guide.pdf") and hit.page == 2
    assert not layout.chroma.exists()  # nothing went to the embedded store

    import chromadb

    port = int(chroma_server.rsplit(":", 1)[1])
    settings = chromadb.config.Settings(anonymized_telemetry=False)
    server = chromadb.HttpClient(host="127.0.0.1", port=port, settings=settings)
    stored = {c.name: c.count() for c in server.list_collections()}
    assert list(stored.values()) == [library.collections()[0].chunks]

    (corpus / "ops.md").unlink()
    assert [e.kind for e in library.sync("remote") if e.kind == "removed"] == ["removed"]
    library.remove("remote")
    assert server.list_collections() == []
