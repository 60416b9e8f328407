"""Collection names: any text that can work is a name, and the store keys it safely wherever a
name would become a file name or part of an address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.documents.collection_names import collection_key, collection_name_problem
from backend.documents.formats import OCR_PICTURE_SUFFIXES, PARSED_SUFFIXES
from backend.documents.parsers import PARSERS, PICTURE_SUFFIXES
from backend.documents.repair import RepairMarks
from tests.backend.conftest import RunningBackend


@pytest.mark.parametrize(
    "name", ["My Documents", "Café ☕ notes", "Q3 reports (draft)", "a" * 64, "docs", "x"]
)
def test_any_text_that_can_work_is_a_name(name: str) -> None:
    assert collection_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "blank"),
        ("   ", "blank"),
        ("a" * 65, "at most 64"),
        (" padded", "start or end with a space"),
        ("two\nlines", "control characters"),
        ("tab\there", "control characters"),
        ("a/b", "'/'"),
        ("..", "'.' or '..'"),
    ],
)
def test_names_that_cannot_work_are_refused_with_the_reason(name: str, why: str) -> None:
    problem = collection_name_problem(name)
    assert problem is not None and why in problem


def test_the_key_is_a_safe_file_name_and_old_names_keep_theirs() -> None:
    assert collection_key("docs") == "docs"  # files kept under an older name are still found
    assert collection_key("v1.2_notes-a") == "v1.2_notes-a"
    spaced = collection_key("My Documents")
    assert spaced != collection_key("My Documents2")
    assert spaced.startswith("~") and all(c.isalnum() for c in spaced[1:])


def test_repair_marks_work_for_any_name_and_find_older_marks(tmp_path: Path) -> None:
    marks = RepairMarks(tmp_path)
    marks.mark("My Documents/..", "disk full")  # even a name the API refuses is a safe file
    marks.mark("My Documents", "disk full")
    assert marks.needs_rebuild("My Documents") and not marks.needs_rebuild("My")
    assert all(" " not in p.name for p in marks.folder.iterdir())
    marks.rebuild_started("My Documents")
    assert marks.marked("My Documents") and not marks.needs_rebuild("My Documents")
    marks.clear("My Documents")
    assert not marks.marked("My Documents")
    (marks.folder / "docs").write_text("an older mark, named by the collection\n")
    assert marks.needs_rebuild("docs")


def test_a_spaced_name_works_end_to_end_over_the_api(
    backend: RunningBackend, tmp_path: Path
) -> None:
    folder = tmp_path / "My Documents"
    folder.mkdir()
    (folder / "plan.md").write_text("# Plan\n\nThe greenhouse opens in April for seedlings.\n")
    api = backend.client()
    events = list(api.documents.add("My Documents", [folder]))
    assert events[-1].type == "finished"
    assert api.documents.detail("My Documents").collection.files == 1
    hits = api.documents.search("greenhouse seedlings", ["My Documents"])
    assert hits and hits[0].source.endswith("plan.md") and hits[0].collection == "My Documents"
    assert list(api.documents.sync("My Documents"))[-1].type == "finished"
    api.documents.remove("My Documents")
    assert "My Documents" not in [c.name for c in api.documents.collections()]


def test_the_api_refuses_a_slash_with_the_reason(backend: RunningBackend, tmp_path: Path) -> None:
    body = {"name": "a/b", "paths": [str(tmp_path)], "stream": True}
    with (
        backend.http() as http,
        http.stream("POST", "/hearth/documents/collections", json=body) as response,
    ):
        assert response.status_code == 400
        error = json.loads(response.read())["error"]
    assert error["code"] == "invalid_collection_name" and "'/'" in error["message"]


def test_the_formats_the_desktop_lists_are_the_ones_parsed() -> None:
    assert set(PARSED_SUFFIXES) == set(PARSERS)
    assert set(OCR_PICTURE_SUFFIXES) == set(PICTURE_SUFFIXES)
