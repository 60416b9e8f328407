"""A cited passage in its surroundings (#20 defect 15): the chunks before and after it in its
file, from the chunk store, without the sentences neighbouring chunks repeat."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.client import BackendError, HearthClient
from backend.documents.passage_context import after_overlap, without_overlap
from tests.backend.conftest import RunningBackend


def test_the_overlap_between_neighbours_is_shown_once() -> None:
    first, second = "Alpha beta. Gamma delta epsilon.", "Gamma delta epsilon. Zeta eta."
    assert without_overlap(first, second) == "Alpha beta."
    assert after_overlap(first, second) == "Zeta eta."
    assert without_overlap("ends in a.", "a. starts") == "ends in a.", "chance overlaps stay"


def river_notes(backend: RunningBackend, tmp_path: Path) -> tuple[HearthClient, Path, list[str]]:
    """A collection "River notes" of one Markdown file of 120 numbered facts, indexed."""
    folder = tmp_path / "River notes"
    folder.mkdir()
    facts = [f"Fact {i} says the river {i} is {i * 3} km long." for i in range(120)]
    (folder / "rivers.md").write_text("# Rivers\n\n" + " ".join(facts) + "\n")
    api = backend.client()
    assert list(api.documents.add("River notes", [folder]))[-1].type == "finished"
    return api, folder, facts


def test_the_api_returns_the_passage_with_its_neighbours(
    backend: RunningBackend, tmp_path: Path
) -> None:
    api, _folder, facts = river_notes(backend, tmp_path)
    hits = api.documents.search("Fact 60 says the river 60 is 180 km long", ["River notes"], k=1)
    hit = hits[0]
    context = api.documents.context("River notes", hit.source, hit.text)
    assert context.found and context.passage == hit.text
    assert context.before and context.after, "a middle passage has text on both sides"
    first_fact = context.passage.split(". ")[0]
    assert first_fact not in context.before, "the repeated sentence is shown once"
    whole = context.before + context.passage + context.after
    numbers = [i for i in range(120) if f"Fact {i} says" in whole]
    assert numbers == list(range(numbers[0], numbers[-1] + 1)), "the text reads on in order"
    assert len(numbers) > len([f for f in facts if f in context.passage])

    moved = api.documents.context("River notes", hit.source, "text no longer indexed")
    assert not moved.found and moved.passage == "text no longer indexed"
    with pytest.raises(BackendError) as error:
        api.documents.context("No such collection", hit.source, hit.text)
    assert error.value.status == 404


def test_a_documents_text_comes_whole_or_from_its_start_for_a_quick_action(
    backend: RunningBackend, tmp_path: Path
) -> None:
    """#20's quick actions on a document in a collection read its indexed text."""
    api, folder, _facts = river_notes(backend, tmp_path)
    path = str(folder / "rivers.md")
    whole = api.documents.text("River notes", path)
    assert whole.complete
    assert [i for i in range(120) if f"Fact {i} says" in whole.text] == list(range(120))
    assert whole.text.count("Fact 60 says") == 1, "the chunks' overlaps are left out"
    start = api.documents.text("River notes", path, max_chars=300)
    assert not start.complete and len(start.text) == 300 and whole.text.startswith(start.text)
    with pytest.raises(BackendError) as error:
        api.documents.text("River notes", str(folder / "absent.md"))
    assert error.value.status == 404 and "not indexed" in str(error.value)
