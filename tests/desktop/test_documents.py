"""The Documents page against a real backend: drop a folder, pause and resume, failures,
re-sync when a watched folder changes, and attaching collections to a chat."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from desktop.documents.ingest_progress import IngestProgress
from desktop.documents.source_preview import HIGHLIGHT, SourcePreviewDialog
from desktop.main_window import MainWindow
from tests.desktop.drops import drop_files
from tests.desktop.test_chat import type_and_send, wait_for_reply
from tests.inprocess_backend import InProcessBackend

INDEX_TIMEOUT_MS = 120_000
FILES = 8
BATCH_CHUNKS = 4  # two files of two chunks each: a run of several batches, in a second
INGEST_PATH = "/hearth/documents/collections"  # where a folder is added, its progress streamed
QUICK_QUIET_MS = 100  # a write's events all arrive well within it


def write_library(folder: Path, files: int = FILES, paragraphs: int = 10) -> Path:
    """Text files of two chunks each, and a broken PDF."""
    folder.mkdir(parents=True)
    for number in range(files):
        lines = [
            f"Report {number} section {p}: the survey team counted {number * 7 + p} herons "
            f"near marker {p} of river {number}, and noted calm water and steady wind."
            for p in range(paragraphs)
        ]
        (folder / f"report-{number:02d}.txt").write_text("\n\n".join(lines))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a PDF")
    return folder


def collection(window: MainWindow, name: str) -> dict:
    return next((c.model_dump() for c in window.documents.collections if c.name == name), {})


def test_dropped_folder_indexes_with_pause_resume_and_lists_failures(
    qtbot, window: MainWindow, fake_backend: InProcessBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    library = write_library(tmp_path / "field-notes")
    documents = fake_backend.services.documents
    documents.config = documents.config.model_copy(update={"batch_chunks": BATCH_CHUNKS})
    embedder = fake_backend.embedder
    embedder.hold_after(0)  # the run waits at its first batch of vectors (phase two)
    panel = window.documents
    window.tabs.setCurrentWidget(panel)
    assert drop_files(panel, [library], at=QPoint(20, 12)), "a folder drop is accepted"
    queue = panel.queue
    qtbot.waitUntil(embedder.holding.is_set, timeout=INDEX_TIMEOUT_MS)
    qtbot.waitUntil(lambda: queue.progress is not None and queue.progress.searchable)
    progress = queue.progress
    assert progress.collection == "field-notes"
    # Phase one read every file before the first vector: the collection is searchable.
    assert progress.files_done == progress.files_total == FILES + 1
    assert "searchable by keywords" in panel.progress_title.text()
    # Pause is seen between events: the stream closes, and the backend stops the run after
    # the batch of vectors it is writing (held here until the backend has taken the
    # disconnect in).
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    embedder.step()
    qtbot.waitUntil(lambda: not queue.running, timeout=INDEX_TIMEOUT_MS)
    qtbot.waitUntil(lambda: fake_backend.requests.open(INGEST_PATH) == 0)
    embedder.release()
    assert progress.paused and not progress.finished
    assert panel.pause_button.text() == "Resume"
    assert panel.progress_bar.value() < 100 and "paused" in panel.progress_title.text()
    total, embedded = documents.state.chunk_counts("field-notes")
    assert 0 < embedded < total, "paused before the end"
    # A folder added while paused waits: Pause holds the whole queue, and Resume stays here.
    panel.add_folders("clean-run", [str(library)])  # a job would start here, at once
    assert not queue.running and queue.progress is progress
    assert queue._waiting == [("clean-run", [str(library)])]
    assert panel.pause_button.text() == "Resume"

    ended: list[IngestProgress] = []
    queue.ended.connect(ended.append)
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=INDEX_TIMEOUT_MS)
    assert [(p.collection, p.finished) for p in ended] == [
        ("field-notes", True),  # the paused collection resumes first
        ("clean-run", True),
    ]
    assert panel.progress_bar.value() == 100
    # Each run lists the PDF it could not read (the resumed one skips it: it failed before).
    qtbot.waitUntil(lambda: panel.failures.count() == 1)
    failure = panel.failures.item(0).text()
    assert "broken.pdf" in failure and ":" in failure.split("broken.pdf", 1)[1]
    assert panel.failures.isVisible()

    # The resumed index equals one uninterrupted run over the same files (queued above), once
    # the listing shows that run whole (one refreshed during its first phase holds part of it).
    qtbot.waitUntil(
        lambda: collection(window, "clean-run").get("files", 0) == FILES + 1,
        timeout=INDEX_TIMEOUT_MS,
    )
    resumed, clean = collection(window, "field-notes"), collection(window, "clean-run")
    assert resumed["chunks"] == clean["chunks"] > FILES
    assert resumed["files"] == clean["files"] == FILES + 1
    assert resumed["failed"] == clean["failed"] == 1
    rows = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert any(row.startswith(f"field-notes\n{FILES} files indexed") for row in rows)
    assert any("1 could not be read" in row for row in rows)


def test_a_new_file_in_a_watched_subfolder_is_indexed_and_searchable(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes"
    (notes / "2026" / "march").mkdir(parents=True)
    (notes / "intro.md").write_text("# Notes\n\nThe garden shed holds two ladders.\n")
    panel = window.documents
    panel.add_folders("notes", [str(notes)])
    qtbot.waitUntil(
        lambda: collection(window, "notes").get("chunks", 0) > 0, timeout=INDEX_TIMEOUT_MS
    )
    before = collection(window, "notes")["chunks"]
    watcher = window.folder_watcher
    watcher._quiet.setInterval(QUICK_QUIET_MS)  # the wait for quiet is not the subject here
    qtbot.waitUntil(lambda: str(notes / "2026" / "march") in watcher.watched)

    (notes / "2026" / "march" / "visit.txt").write_text(
        "The quartermaster ordered seventeen tangerine umbrellas for the regatta."
    )
    qtbot.waitUntil(
        lambda: collection(window, "notes").get("chunks", 0) > before, timeout=INDEX_TIMEOUT_MS
    )
    api = window.connection.api
    assert api is not None
    documents = api.documents
    (hit,) = documents.search("tangerine umbrellas for the regatta", ["notes"])[:1]
    assert hit.source.endswith("visit.txt")

    # An edit in place (same file, new words) reaches only a watch on the file itself.
    qtbot.waitUntil(lambda: str(notes / "intro.md") in watcher.watched)
    synced = panel.queue.progress
    (notes / "intro.md").write_text("# Notes\n\nThe garden shed now holds a violet canoe.\n")
    qtbot.waitUntil(
        lambda: panel.queue.progress is not synced and panel.queue.progress.finished,
        timeout=INDEX_TIMEOUT_MS,
    )
    (hit,) = documents.search("violet canoe in the garden shed", ["notes"])[:1]
    assert hit.source.endswith("intro.md") and "violet canoe" in hit.text
    assert not any("ladders" in h.text for h in documents.search("ladders", ["notes"]))

    # Re-sync from the button finds nothing new; Remove asks first, then stops the watching.
    window.tabs.setCurrentWidget(panel)  # a click reaches only a button on the shown tab
    qtbot.waitUntil(lambda: not panel.queue.running)
    panel.list.setCurrentRow(0)
    synced = panel.queue.progress
    qtbot.mouseClick(panel.sync_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: panel.queue.progress is not synced and panel.queue.progress.finished,
        timeout=INDEX_TIMEOUT_MS,
    )
    assert panel.queue.progress.chunks_done == 0, "unchanged files are not indexed again"
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    confirm = panel.findChild(QMessageBox)
    confirm.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: collection(window, "notes") == {})
    qtbot.waitUntil(lambda: str(notes) not in watcher.watched)
    assert (notes / "intro.md").exists(), "removing a collection leaves the files alone"


def test_a_chat_on_a_collection_shows_sources_that_open_a_preview_and_the_file(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    harbour = tmp_path / "harbour"
    harbour.mkdir()
    cat = harbour / "lighthouse.txt"
    cat.write_text("The lighthouse keeper's cat is named Biscuit and sleeps beside the lamp.\n")
    window.documents.add_folders("harbour", [str(harbour)])
    qtbot.waitUntil(
        lambda: collection(window, "harbour").get("chunks", 0) > 0, timeout=INDEX_TIMEOUT_MS
    )

    button = window.chat_view.collections_button
    (choice,) = [a for a in button.menu().actions() if a.text() == "harbour"]
    choice.trigger()  # before the chat exists: the first message creates it attached
    assert button.text() == "Documents: harbour"
    type_and_send(qtbot, window, "What is the lighthouse keeper's cat named?")
    wait_for_reply(qtbot, window)
    assert window.session.conversation is not None
    assert window.session.conversation.collections == ["harbour"]

    reply = window.chat_view.views[-1]
    (source_button,) = reply.source_buttons
    assert source_button.text() == "[1] lighthouse.txt, lines 1–1"
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    qtbot.mouseClick(source_button, Qt.MouseButton.LeftButton)
    dialog = window.chat_view.findChild(SourcePreviewDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.path_label.text() == str(cat)
    assert dialog.location_label.text() == "lines 1–1"
    assert "Biscuit" in dialog.passage.toPlainText()
    assert HIGHLIGHT[window.theme.dark] in dialog.passage.toHtml(), "the passage is highlighted"
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl.fromLocalFile(str(cat))]

    # Reopening the chat shows the stored sources again.
    window.session.reload()
    qtbot.waitUntil(lambda: window.chat_view.views and window.chat_view.views[-1] is not reply)
    assert len(window.chat_view.views[-1].source_buttons) == 1


def test_a_folder_added_before_the_engine_is_up_waits_for_it(
    offline_window: MainWindow, tmp_path: Path
) -> None:
    panel = offline_window.documents
    panel.add_folders("notes", [str(tmp_path)])
    assert panel.progress_title.text() == "notes: waiting for the engine to start"
    assert not panel.pause_button.isEnabled()
    assert not panel.queue.running and panel.queue._waiting == [("notes", [str(tmp_path)])]
