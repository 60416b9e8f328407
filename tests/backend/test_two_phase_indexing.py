"""Two-phase indexing: BM25 finds a collection's chunks as soon as they are parsed, search says
how much dense search saw while vectors fill in, and replaced chunks lose their vectors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from backend.documents.ingest import IngestConfig
from backend.documents.library import DocumentLibrary
from backend.paths import HomeLayout
from backend.settings import Settings
from backend.wire import IngestEvent
from tests.backend.inprocess_cli import run_hearth

ANIMALS = ["heron", "otter", "badger", "kestrel", "salmon", "beaver"]


def make_folder(folder: Path) -> Path:
    folder.mkdir()
    for i, animal in enumerate(ANIMALS):
        (folder / f"{animal}.md").write_text(
            f"# The {animal}\n\n## Habits\n\nThe {animal} wakes at {i + 4} in the morning.\n\n"
            f"## Food\n\nThe {animal} eats what the river brings on day {i}.\n"
        )
    return folder


@pytest.fixture
def library(tmp_path: Path) -> Iterator[DocumentLibrary]:
    # Small batches, so phase two writes its vectors in several steps.
    config = IngestConfig(batch_chunks=4)
    opened = DocumentLibrary(HomeLayout(tmp_path / "home").ensure(), Settings(), config)
    yield opened
    opened.close()


def test_search_during_phase_one_finds_bm25_hits_then_dense_fills_in(
    library: DocumentLibrary, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "notes")
    events = library.add("notes", [folder])
    labels: list[str] = []
    for event in events:
        if event.type == "searchable":
            assert event.phase == "parse" and event.chunks_done == 2 * len(ANIMALS)
            found = library.search_results("when does the otter wake", ["notes"], k=3)
            assert found.dense.embedded == 0 and found.dense.label == "0% indexed"
            assert found.hits[0].source.endswith("otter.md") and "wakes at 5" in found.hits[0].text
            assert found.hits[0].similarity is None  # no vector yet
            assert library.search("otter wake", ["notes"], mode="dense") == []
        if event.type == "embedded":
            assert event.phase == "embed" and event.chunks_to_embed == 2 * len(ANIMALS)
            found = library.search_results("badger food river", ["notes"], k=12, mode="bm25")
            labels.append(found.dense.label)
            # Every chunk is found by BM25 whether or not its vector is written yet.
            assert {h.source for h in found.hits} >= {str(folder / "badger.md")}
    assert labels == ["33% indexed", "66% indexed", "100% indexed"]
    found = library.search_results("when does the otter wake", ["notes"], k=3, mode="dense")
    assert found.dense.label == "100% indexed" and found.hits[0].similarity is not None


def test_a_changed_file_replaces_its_vectors_and_a_removed_one_drops_them(
    library: DocumentLibrary, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "notes")
    list(library.add("notes", [folder]))
    (folder / "heron.md").write_text("# The heron\n\nThe heron fishes at dusk by the weir.\n")
    (folder / "otter.md").unlink()
    events = list(library.sync("notes"))
    assert [e.type for e in events if e.type == "embedded"] == ["embedded"]
    stored = library.store.all("notes")
    texts = " ".join(c.text for c in stored)
    assert "weir" in texts and "wakes at 4" not in texts and "otter" not in texts
    assert sorted(c.id for c in stored) == [c.id for c in library.state.chunks("notes")]
    assert library.state.vector_removals("notes", 10) == []


def rows(home: Path, sql: str) -> None:
    with closing(sqlite3.connect(home / "hearth.db")) as conn, conn:
        conn.execute(sql)


def test_a_collection_indexed_before_two_phases_is_copied_from_chroma(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = make_folder(tmp_path / "notes")
    library = DocumentLibrary(HomeLayout(home).ensure(), Settings())
    list(library.add("notes", [folder]))
    before = library.state.chunks("notes")
    library.close()
    # What schema 4 finds in an older database: chunks in Chroma only.
    rows(home, "DELETE FROM doc_chunks")
    rows(home, "UPDATE doc_collections SET chunks_in_chroma_only = 1")
    library = DocumentLibrary(HomeLayout(home), Settings())
    try:
        (hit,) = library.search("what does the salmon eat", ["notes"], k=1, mode="bm25")
        assert hit.source.endswith("salmon.md") and "river brings" in hit.text
        assert library.state.chunks("notes") == before
        assert library.state.chunk_counts("notes") == (len(before), len(before))
        events: list[IngestEvent] = list(library.sync("notes"))
        assert {e.type for e in events} == {"planned", "unchanged", "searchable", "finished"}
    finally:
        library.close()


def test_cli_search_says_how_far_dense_indexing_got(tmp_path: Path, hearth_home: Path) -> None:
    library = DocumentLibrary(HomeLayout(hearth_home).ensure(), Settings())
    events = iter(library.add("notes", [make_folder(tmp_path / "notes")]))
    while next(events).type != "searchable":
        pass  # phase one only: stopped as a Pause or a kill would leave it
    getattr(events, "close", lambda: None)()
    library.close()
    result = run_hearth("docs", "search", "when does the kestrel wake", "--collection", "notes")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("dense: 0% indexed;") and "kestrel.md" in lines[1]
    assert (
        "dense:"
        not in run_hearth(
            "docs", "search", "kestrel", "--collection", "notes", "--mode", "bm25"
        ).out
    )
