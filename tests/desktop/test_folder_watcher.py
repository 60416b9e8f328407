"""Folder watching without a backend: which paths are watched, and edits in place noticed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from backend.wire import CollectionInfo
from desktop.documents.folder_watcher import FolderWatcher, paths_under
from desktop.workers import TaskRunner


def test_folders_and_visible_files_are_watched_up_to_a_cap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "notes" / "2026").mkdir(parents=True)
    (tmp_path / "notes" / ".git").mkdir()
    (tmp_path / "notes" / ".git" / "HEAD").write_text("ref")
    (tmp_path / "notes" / ".draft.md").write_text("hidden")
    for number in range(4):
        (tmp_path / "notes" / "2026" / f"day-{number}.md").write_text(f"day {number}")
    notes = str(tmp_path / "notes")

    owners = paths_under({"notes": [notes]})
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in owners) == [
        "notes",
        "notes/2026",
        "notes/2026/day-0.md",
        "notes/2026/day-1.md",
        "notes/2026/day-2.md",
        "notes/2026/day-3.md",
    ]
    assert caplog.records == []

    with caplog.at_level(logging.WARNING):
        capped = paths_under({"notes": [notes]}, max_files=3)
    assert sum(p.endswith(".md") for p in capped) == 3
    assert notes in capped and f"{notes}/2026" in capped, "folders are watched past the cap"
    assert "has 4 files; only the first 3 are watched" in caplog.text


def test_a_file_rewritten_in_place_reports_its_collection(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Writing into an existing file adds, removes and renames nothing in its folder."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "intro.md").write_text("The garden shed holds two ladders.")
    runner = TaskRunner()
    watcher = FolderWatcher(runner)
    watcher.watch([CollectionInfo(name="notes", created_at=0.0, roots=[str(notes)], revision=1)])
    qtbot.waitUntil(lambda: str(notes / "intro.md") in watcher.watched)

    with qtbot.waitSignal(watcher.changed, timeout=10_000) as changed:
        (notes / "intro.md").write_text("The garden shed holds a violet canoe.")  # same inode
    assert changed.args == ["notes"]
    watcher.deleteLater()
    runner.wait()
    QApplication.processEvents()
