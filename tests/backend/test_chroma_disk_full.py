"""A full disk while Chroma is written: the collection is marked, the run ends with "disk full"
and the path, and the next sync rebuilds the vectors, so that every chunk is found by its own
vector and the index matches a clean run's (#18).

The child process indexes under a file-size limit (RLIMIT_FSIZE: no root needed; SIGXFSZ is
ignored so a write fails with EFBIG instead of killing it), the way a disk fills: first Chroma's
big index file cannot grow while its SQLite files still can (Chroma's index writer then loses
vectors without an error), then nothing can grow and Chroma raises. Chroma's index file only
outgrows its SQLite files once it holds many replaced vectors, so the child first re-indexes a
changed corpus a few times. Vectors come from a word-hash embedder: this is about storage, and
the real model would only make it slower.
"""

from __future__ import annotations

import hashlib
import json
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backend.documents.chunking import ChunkingConfig
from backend.documents.ingest import IngestConfig
from backend.documents.library import DocumentLibrary
from backend.documents.repair import RepairMarks
from backend.documents.state import IngestState
from backend.documents.vector_store import ChunkStore
from backend.lazy import Lazy
from backend.paths import HomeLayout
from backend.settings import Settings
from tests.backend.conftest import InProcessRealBackend
from tests.backend.inprocess_cli import run_hearth

COLLECTION = "notes"
FILES, PARAGRAPHS = 50, 20  # one chunk a paragraph: 1,000 chunks a version of the corpus
VERSIONS_BEFORE = 5  # replaced vectors that make Chroma's index file outgrow its SQLite files
# Above every SQLite file of the home (hearth.db's WAL reaches about 4.3 MB), below where
# Chroma's index file writes the next vectors (past 5 x 1,000 x 1,676 bytes, about 8.4 MB).
INDEX_FILE_LIMIT = 6_500_000
FULL_AFTER = 1_700  # vectors written under the limit before the disk is entirely full
NEIGHBOURS = 10  # equal texts have equal vectors, so a chunk is found among its nearest few


class WordHashEmbedder:
    """384 numbers drawn from a seed that is the text's hash: equal texts, equal vectors."""

    name = "word-hash"
    dimensions = 384

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = [
            np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:16], 16))
            .standard_normal(self.dimensions)
            .astype(np.float32)
            for t in texts
        ]
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dimensions)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def open_library(home: Path) -> DocumentLibrary:
    config = IngestConfig(chunking=ChunkingConfig(target_tokens=16, overlap_tokens=0))
    return DocumentLibrary(
        HomeLayout(home).ensure(),
        Settings(threads=1),
        config,
        embedder=Lazy(WordHashEmbedder),  # type: ignore[arg-type]  # a stand-in, duck-typed
    )


def write_corpus(folder: Path, version: int) -> None:
    """Every version changes every paragraph, so re-indexing replaces every vector."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(FILES):
        paragraphs = [
            f"Paragraph {p} of file {f}, version {version}: "
            + " ".join(f"w{(f * 31 + p * 7 + k) % 997}" for k in range(8))
            + "."
            for p in range(PARAGRAPHS)
        ]
        (folder / f"file{f:02}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


def _fill_disk_after(writes: int) -> None:
    """From the `writes`-th vector on, Chroma's next write finds the disk entirely full."""
    upsert = ChunkStore.upsert
    written = 0

    def upsert_on_a_filling_disk(
        self: ChunkStore, name: str, ids: Sequence[str], *args: Any
    ) -> None:
        nonlocal written
        written += len(ids)
        if written < writes:
            return upsert(self, name, ids, *args)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
        try:
            return upsert(self, name, ids, *args)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (INDEX_FILE_LIMIT, resource.RLIM_INFINITY))

    ChunkStore.upsert = upsert_on_a_filling_disk  # type: ignore[method-assign,assignment]


def index_until_the_disk_fills(home: Path, corpus: Path) -> dict[str, str]:
    """The child's work; returns how the run that hit the full disk ended."""
    library = open_library(home)
    for version in range(VERSIONS_BEFORE):
        write_corpus(corpus, version)
        list(library.add(COLLECTION, [corpus]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (INDEX_FILE_LIMIT, resource.RLIM_INFINITY))
    _fill_disk_after(FULL_AFTER)
    outcome = {"error": "", "code": ""}
    try:
        write_corpus(corpus, VERSIONS_BEFORE)  # its vectors land where the file cannot grow
        list(library.sync(COLLECTION))
        write_corpus(corpus / "more", VERSIONS_BEFORE + 1)  # new files: nothing replaced
        list(library.sync(COLLECTION))  # the disk fills up entirely during this run
    except Exception as exc:
        code = getattr(exc, "code", None)  # Hearth's errors name theirs; Chroma's is a method
        outcome = {"error": str(exc), "code": code if isinstance(code, str) else repr(exc)}
    return outcome


def _run_child(home: Path, corpus: Path) -> dict[str, str]:
    child = subprocess.run(
        [sys.executable, "-m", "tests.backend.test_chroma_disk_full", str(home), str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[2],
    )
    assert child.returncode == 0, child.stderr[-3000:]
    return json.loads(child.stdout.splitlines()[-1])


def vectors_by_id(library: DocumentLibrary) -> dict[str, np.ndarray]:
    store = library.store
    ids = [c.id for c in store.all(COLLECTION)]
    return {c.id: c.vector for c in store.get(COLLECTION, ids) if c.vector is not None}


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_a_full_disk_marks_the_collection_and_the_next_sync_repairs_it(tmp_path: Path) -> None:
    home, corpus = tmp_path / "home", tmp_path / "docs"
    outcome = _run_child(home, corpus)
    assert outcome["code"] == "disk_full", outcome
    assert outcome["error"].startswith("disk full: ")
    assert str(home / "chroma") in outcome["error"]
    assert "hearth docs sync notes" in outcome["error"]

    library = open_library(home)
    try:
        events = list(library.sync(COLLECTION))  # space is back
        assert events[-1].type == "finished"
        stored = vectors_by_id(library)
        lost = [
            i
            for i, vector in stored.items()
            if i not in {c.id for c in library.store.query(COLLECTION, vector, NEIGHBOURS)}
        ]
        counts = library.collection(COLLECTION)
    finally:
        library.close()

    clean = open_library(tmp_path / "clean-home")
    try:
        list(clean.add(COLLECTION, [corpus]))
        expected = vectors_by_id(clean)
        clean_counts = clean.collection(COLLECTION)
    finally:
        clean.close()
    assert lost == []  # every chunk is found by its own vector
    assert sorted(stored) == sorted(expected)  # the same chunks as a clean run, no more
    assert (counts.files, counts.chunks) == (clean_counts.files, clean_counts.chunks)
    for i, vector in expected.items():
        assert np.allclose(stored[i], vector, atol=1e-6)


def test_a_sync_re_adds_the_vectors_chroma_lacks(tmp_path: Path) -> None:
    """By count: vectors lost from Chroma (or a new, empty Chroma server) are written again from
    the stored chunks, without reading the files."""
    write_corpus(tmp_path / "docs", 0)
    library = open_library(tmp_path / "home")
    try:
        list(library.add(COLLECTION, [tmp_path / "docs"]))
        ids = sorted(vectors_by_id(library))
        library.store.delete_ids(COLLECTION, ids[::7])
        events = list(library.sync(COLLECTION))
        assert "indexed" not in {e.type for e in events}
        assert sorted(vectors_by_id(library)) == ids
    finally:
        library.close()


def test_a_paused_repair_resumes_without_starting_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_corpus(tmp_path / "docs", 0)
    library = open_library(tmp_path / "home")
    drops: list[str] = []
    drop = ChunkStore.drop
    monkeypatch.setattr(
        ChunkStore, "drop", lambda store, name: drops.append(name) or drop(store, name)
    )
    try:
        list(library.add(COLLECTION, [tmp_path / "docs"]))
        RepairMarks(tmp_path / "home").mark(COLLECTION, "a write failed")
        run = library.sync(COLLECTION)
        for event in run:
            if event.type == "embedded":
                break  # Pause: the client went away after the first batch of vectors
        run.close()  # type: ignore[attr-defined]
        assert RepairMarks(tmp_path / "home").marked(COLLECTION)
        assert list(library.sync(COLLECTION))[-1].type == "finished"
        assert drops == [COLLECTION]  # dropped once, then refilled where the pause left it
        assert not RepairMarks(tmp_path / "home").marked(COLLECTION)
        assert len(vectors_by_id(library)) == library.collection(COLLECTION).chunks
    finally:
        library.close()


def write_notes(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "boat.txt").write_text("The ferry to the island leaves at seven.", encoding="utf-8")
    (folder / "cat.txt").write_text("The lighthouse cat is called Biscuit.", encoding="utf-8")
    return folder


def _chroma_finds_no_room(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chroma's own words when its SQLite files cannot grow (seen with a full disk)."""
    from chromadb.errors import InternalError

    def no_room(*args: object, **kwargs: object) -> None:
        raise InternalError("Error in compaction: Failed to apply logs to the metadata segment")

    monkeypatch.setattr(ChunkStore, "upsert", no_room)


def test_the_cli_says_disk_full_with_the_path_in_one_line(
    hearth_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = write_notes(tmp_path / "docs")
    with monkeypatch.context() as patch:
        _chroma_finds_no_room(patch)
        # --json: no progress bar on stderr, so the error is all there is
        result = run_hearth("docs", "add", str(notes), "--collection", "notes", "--json")
    assert result.code == 1
    (line,) = result.err.splitlines()  # one line, no traceback
    assert line.startswith("hearth: disk full: the document index at ")
    assert str(hearth_home / "chroma") in line and "hearth docs sync notes" in line
    assert RepairMarks(hearth_home).marked("notes")

    assert run_hearth("docs", "sync", "notes").code == 0
    assert not RepairMarks(hearth_home).marked("notes")
    found = run_hearth("docs", "search", "cat", "--collection", "notes", "--mode", "dense")
    assert found.code == 0 and "cat.txt" in found.out.splitlines()[0]


def test_a_full_disk_for_the_ingest_state_names_hearth_db(
    hearth_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_room(*args: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(IngestState, "replace_files", no_room)
    notes = write_notes(tmp_path / "docs")
    result = run_hearth("docs", "add", str(notes), "--collection", "notes", "--json")
    assert result.code == 1
    (line,) = result.err.splitlines()
    assert line.startswith(f"hearth: disk full: the ingest state in {hearth_home / 'hearth.db'} ")
    assert not RepairMarks(hearth_home).marked("notes")  # Chroma was not written


def test_the_api_says_disk_full_and_the_next_sync_repairs(
    backend: InProcessRealBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"name": "full", "paths": [str(write_notes(tmp_path / "docs"))], "stream": True}
    with monkeypatch.context() as patch:
        _chroma_finds_no_room(patch)
        events = list(backend.client().stream_events("/hearth/documents/collections", body))
    assert events[-1]["type"] == "error" and events[-1]["code"] == "disk_full"
    assert str(backend.layout.chroma) in events[-1]["message"]

    with backend.http() as http:
        synced = http.post("/hearth/documents/collections/full/sync", json={"stream": False})
        assert synced.status_code == 200, synced.text
        assert synced.json()["events"][-1]["type"] == "finished"
        found = http.post(
            "/hearth/documents/search",
            json={"query": "cat", "collections": ["full"], "mode": "dense"},
        )
    assert found.status_code == 200, found.text
    assert found.json()["hits"][0]["source"].endswith("cat.txt")
    assert not RepairMarks(backend.layout.root).marked("full")


if __name__ == "__main__":  # the child: python -m tests.backend.test_chroma_disk_full HOME DOCS
    print(json.dumps(index_until_the_disk_fills(Path(sys.argv[1]), Path(sys.argv[2]))))
