"""The Documents tab for a first-time user (#20 defects 5 and 9): names with spaces, a folder
added or dropped with no collection selected, the empty state, a new collection shown at once,
and plain wording of files that could not be read."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDir, QPoint
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QLabel

from backend.wire import CollectionInfo
from desktop.documents.collection_name_dialog import CollectionNameDialog
from desktop.documents.documents_panel import describe_collection
from desktop.documents.ingest_progress import IngestProgress
from desktop.main_window import MainWindow
from tests.desktop.drops import drop_files
from tests.desktop.test_screenshots import save, screenshot_dir  # noqa: F401 (a fixture)
from tests.inprocess_backend import InProcessBackend

INDEX_TIMEOUT_MS = 120_000


def write_notes(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "greenhouse.md").write_text("# Greenhouse\n\nThe greenhouse opens in April.\n")
    return folder


def test_the_name_box_says_why_a_name_cannot_work_as_it_is_typed(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = CollectionNameDialog()
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled() and dialog.reason.text() == ""  # blank: nothing to scold yet
    dialog.field.setText("2024/taxes")
    assert not ok.isEnabled() and "'/'" in dialog.reason.text()
    dialog.field.setText("x" * 65)
    assert not ok.isEnabled() and "64" in dialog.reason.text()
    dialog.field.setText("My Documents")
    assert ok.isEnabled() and dialog.reason.text() == ""
    assert dialog.name() == "My Documents"


def test_a_dropped_my_documents_folder_shows_at_once_and_indexes(
    qtbot, window: MainWindow, fake_backend: InProcessBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = write_notes(tmp_path / "My Documents")
    panel = window.documents
    window.tabs.setCurrentWidget(panel)
    embedder = fake_backend.embedder
    embedder.hold_after(0)  # the run waits at its first batch of vectors
    assert drop_files(panel, [folder], at=QPoint(20, 12))
    rows = [panel.list.item(i) for i in range(panel.list.count())]
    assert [r.text().splitlines()[0] for r in rows] == ["My Documents"], "shown at once"
    qtbot.waitUntil(embedder.holding.is_set, timeout=INDEX_TIMEOUT_MS)
    assert panel.list.isVisible() and not panel.empty_state.isVisible()
    embedder.release()
    qtbot.waitUntil(lambda: not panel.queue.running, timeout=INDEX_TIMEOUT_MS)
    assert panel.queue.progress is not None and panel.queue.progress.error is None
    qtbot.waitUntil(lambda: [c.name for c in panel.collections] == ["My Documents"])
    assert panel.collections[0].files == 1 and panel.collections[0].chunks > 0
    assert "1 files indexed" in panel.list.item(0).text()


def test_add_folder_with_nothing_selected_starts_a_collection_named_after_it(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = write_notes(tmp_path / "Field notes 2024")
    panel = window.documents
    assert panel.selected_name() is None
    assert panel.add_button.isEnabled() and "new collection" in panel.add_button.toolTip()
    panel.add_button.click()
    dialog = panel.findChild(QFileDialog)
    assert dialog is not None
    assert dialog.directory().absolutePath() == QDir.homePath()  # not the working directory
    dialog.fileSelected.emit(str(folder))
    dialog.reject()
    qtbot.waitUntil(lambda: not panel.queue.running, timeout=INDEX_TIMEOUT_MS)
    qtbot.waitUntil(lambda: [c.name for c in panel.collections] == ["Field notes 2024"])
    # The new collection is the selected one, and the finished run leaves only its summary.
    assert panel.selected_name() == "Field notes 2024" and panel.remove_button.isEnabled()
    assert "up to date" in panel.progress_title.text() and panel.progress_title.isVisibleTo(panel)
    assert not panel.progress_bar.isVisibleTo(panel) and not panel.pause_button.isVisibleTo(panel)


def test_the_empty_tab_says_what_it_does_and_offers_a_folder(
    qtbot,
    window: MainWindow,
    screenshot_dir: Path,  # noqa: F811 (the fixture imported above)
) -> None:  # type: ignore[no-untyped-def]
    panel = window.documents
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.empty_state.isVisible())
    assert not panel.list.isVisible()
    assert panel.empty_add_button.isVisible() and panel.empty_add_button.isEnabled()
    text = " ".join(label.text() for label in panel.empty_state.findChildren(QLabel))
    assert "PDF" in text and "DOCX" in text and "OCR" in text and "PNG" in text
    save(window, screenshot_dir / "documents-empty.png")


def test_files_that_could_not_be_read_are_counted_plainly() -> None:
    info = CollectionInfo(name="notes", created_at=0, roots=[], revision=1, files=12, failed=1)
    row = describe_collection(info)
    assert "11 files indexed" in row and "1 could not be read" in row
    assert "12 of 12" not in row and "not indexed" not in row
    progress = IngestProgress("notes")
    progress.files_done = progress.files_total = 12
    progress.failures = [("/notes/broken.pdf", "not a PDF")]
    progress.finished = True
    summary = progress.summary()
    assert "11 files indexed" in summary and "1 could not be read (see why below)" in summary
