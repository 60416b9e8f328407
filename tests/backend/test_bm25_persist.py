"""The BM25 index saved per collection revision: a cold library loads it instead of rebuilding,
it ranks exactly as a fresh build, and a changed collection gets a new one."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.documents.bm25_store import Bm25Store, index_version
from backend.documents.library import DocumentLibrary
from backend.documents.retrieval import Bm25Index, bm25_text
from backend.paths import HomeLayout
from backend.settings import Settings

PLACES = ["harbour", "orchard", "glacier", "railway", "bakery", "volcano", "market", "lighthouse"]
QUERIES = ["when does the harbour open", "glacier railway", "bread at the bakery", "lighthouse"]


def make_folder(folder: Path) -> Path:
    folder.mkdir()
    for i, place in enumerate(PLACES):
        (folder / f"{place}.md").write_text(
            f"# The {place}\n\nThe {place} opens at {i + 5} and closes at {i + 17}.\n\n"
            f"## Visitors\n\nPeople come to the {place} from the {PLACES[i - 1]} by bus.\n"
        )
    return folder


def fresh_build(library: DocumentLibrary, name: str) -> Bm25Index:
    chunks = library.state.chunks(name)
    texts = [bm25_text(c.text, c.metadata) for c in chunks]
    return Bm25Index.build(0, [c.id for c in chunks], texts)


def saved_versions(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "bm25").glob("*/*"))


def test_a_cold_library_loads_the_saved_index_and_ranks_as_a_fresh_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    library = DocumentLibrary(HomeLayout(home).ensure(), Settings())
    list(library.add("places", [make_folder(tmp_path / "places")]))
    info = library.collection("places")
    library.close()
    assert saved_versions(home) == [index_version(info.created_at, info.revision)]

    cold = DocumentLibrary(HomeLayout(home), Settings())
    try:
        fresh = fresh_build(cold, "places")

        def no_build(*args: object) -> Bm25Index:
            raise AssertionError("a cold search rebuilt the saved BM25 index")

        monkeypatch.setattr(Bm25Index, "build", no_build)
        loaded = cold._bm25_index("places")
        for query in QUERIES:
            expected = fresh.search(query, 40)
            found = loaded.search(query, 40)
            assert expected and [i for i, _ in found] == [i for i, _ in expected]
            assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-6)
        (hit,) = cold.search("when does the glacier open", ["places"], k=1, mode="bm25")
        assert hit.source.endswith("glacier.md")
    finally:
        cold.close()


def test_a_changed_collection_saves_a_new_index_and_drops_the_stale_one(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", make_folder(tmp_path / "places")
    library = DocumentLibrary(HomeLayout(home).ensure(), Settings())
    try:
        list(library.add("places", [folder]))
        before = saved_versions(home)
        (folder / "bakery.md").write_text("# The bakery\n\nThe bakery sells quince tarts.\n")
        list(library.sync("places"))
        info = library.collection("places")
        assert saved_versions(home) == [index_version(info.created_at, info.revision)] != before
        (hit,) = library.search("quince tarts", ["places"], k=1, mode="bm25")
        assert hit.source.endswith("bakery.md")
        library.remove("places")
        assert saved_versions(home) == []
    finally:
        library.close()


def test_a_stale_or_broken_saved_index_is_not_used(tmp_path: Path) -> None:
    store = Bm25Store(tmp_path / "bm25")
    index = Bm25Index.build(3, ["a", "b"], ["the grey heron", "the red kite"])
    store.save("birds", "r3-c1", index)
    assert store.load("birds", "r4-c1", 4) is None  # another revision: rebuilt by the caller
    loaded = store.load("birds", "r3-c1", 3)
    assert loaded is not None and loaded.search("heron", 2) == index.search("heron", 2)
    # A kill while saving leaves a staging folder: never loaded, and gone after the next save.
    folder = next((tmp_path / "bm25").iterdir())
    (folder / ".saving-killed").mkdir()
    for saved in (folder / "r3-c1").iterdir():
        if saved.name.endswith(".json"):
            saved.write_text("{")  # a torn file: unreadable, so rebuilt rather than trusted
    assert store.load("birds", "r3-c1", 3) is None
    store.save("birds", "r5-c1", Bm25Index.build(5, ["a"], ["the grey heron"]))
    assert sorted(p.name for p in folder.iterdir()) == ["r5-c1"]
