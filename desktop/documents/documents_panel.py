"""The Documents page: collections, adding folders (picker or drop), re-sync, removal, and the
progress of the indexing job with its pause control and failures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QDir, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from backend.documents.collection_names import MAX_NAME_LENGTH, collection_name_problem
from backend.documents.formats import OCR_PICTURE_SUFFIXES, PARSED_SUFFIXES
from desktop.backend_connection import BackendConnection
from desktop.documents.collection_name_dialog import CollectionNameDialog
from desktop.documents.indexing_queue import IndexingQueue
from desktop.documents.ingest_progress import IngestProgress

if TYPE_CHECKING:
    from backend.wire import CollectionInfo, FileRecord

NAME_ROLE = Qt.ItemDataRole.UserRole


FALLBACK_NAME = "Documents"
EMPTY_STATE = (
    "Add a folder and Hearth reads its files, so a chat attached to the collection answers "
    "from them and cites the file and page. It reads {formats} and any other text or source "
    "file; scans and pictures of text ({pictures}) are read by OCR. Your files stay where they "
    "are, and the folder is watched for changes while Hearth runs."
)


def describe_collection(info: CollectionInfo) -> str:
    indexed = f"{info.files - info.failed:,} files indexed · {info.chunks:,} chunks"
    failed = f" · {info.failed:,} could not be read (select it to see why)" if info.failed else ""
    return f"{info.name}\n{indexed}{failed}"


def folder_collection_name(folder: str) -> str:
    """The name of the collection a folder starts: its own name, when that can be one."""
    name = Path(folder).name.strip()[:MAX_NAME_LENGTH].strip()
    return name if collection_name_problem(name) is None else FALLBACK_NAME


def formats_read() -> tuple[str, str]:
    """The file types indexing reads, as the empty state lists them."""
    formats = sorted({suffix.lstrip(".").upper() for suffix in PARSED_SUFFIXES})
    return ", ".join(formats), ", ".join(s.lstrip(".").upper() for s in OCR_PICTURE_SUFFIXES)


def dropped_paths(event: QDropEvent | QDragEnterEvent) -> list[str]:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    return [url.toLocalFile() for url in urls if url.isLocalFile()]


class DocumentsPanel(QWidget):
    """Shows the collections and drives indexing through an IndexingQueue."""

    collections_changed = Signal(list)  # the CollectionInfo list from the backend
    error = Signal(str)

    def __init__(self, connection: BackendConnection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.queue = IndexingQueue(connection, self)
        self.collections: list[CollectionInfo] = []
        self._failures_version = 0  # a failures list fetched before a newer one is not shown
        self.setAcceptDrops(True)
        self.list = QListWidget(self)
        self.list.setAccessibleName("Document collections")
        self.list.setWordWrap(True)
        self.list.setAcceptDrops(False)  # the panel takes the drop, so the row under it counts
        self.new_button = QPushButton("New collection…", self)
        self.add_button = QPushButton("Add folder…", self)
        self.sync_button = QPushButton("Re-sync", self)
        self.remove_button = QPushButton("Remove", self)
        self._build_empty_state()
        self._build_progress_box()
        self._layout_parts()
        self.new_button.clicked.connect(self.ask_new_collection)
        self.add_button.clicked.connect(self.ask_folder_for_selected)
        self.sync_button.clicked.connect(self.sync_selected)
        self.remove_button.clicked.connect(self.ask_remove_selected)
        self.list.currentItemChanged.connect(lambda *_: self._on_selection_changed())
        self.queue.progressed.connect(self.show_progress)
        self.queue.ended.connect(self._on_job_ended)
        connection.connected.connect(self.refresh)
        self._update_buttons()

    def _build_empty_state(self) -> None:
        """What the page shows before the first collection: what it is for, and a way in."""
        self.empty_state = QWidget(self)
        self.empty_state.setObjectName("documentsEmptyState")
        title = QLabel("No collections yet", self.empty_state)
        title.setObjectName("indexingTitle")
        text = QLabel(
            EMPTY_STATE.format_map(dict(zip(("formats", "pictures"), formats_read(), strict=True))),
            self.empty_state,
        )
        text.setWordWrap(True)
        self.empty_add_button = QPushButton("Add a folder…", self.empty_state)
        self.empty_add_button.clicked.connect(lambda: self._ask_folder(None))
        layout = QVBoxLayout(self.empty_state)
        layout.setContentsMargins(0, 24, 0, 0)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addWidget(self.empty_add_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)

    def _build_progress_box(self) -> None:
        self.progress_title = QLabel(self)
        self.progress_title.setObjectName("indexingTitle")
        self.progress_title.setWordWrap(True)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setAccessibleName("Indexing progress")
        self.current_file = QLabel(self)
        self.current_file.setObjectName("fieldDescription")
        self.current_file.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pause_button = QPushButton("Pause", self)
        self.pause_button.setAccessibleName("Pause or resume indexing")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.failures_label = QLabel("Files that could not be indexed", self)
        self.failures = QListWidget(self)
        self.failures.setAccessibleName("Files that could not be indexed")
        self.failures.setWordWrap(True)
        self.failures.setMaximumHeight(140)
        for part in self._progress_parts():
            part.setVisible(False)

    def _progress_parts(self) -> list[QWidget]:
        return [self.progress_title, self.progress_bar, self.current_file, self.pause_button]

    def _layout_parts(self) -> None:
        heading = QLabel("Documents", self)
        heading.setObjectName("chatTitle")
        hint = QLabel(
            "Chats attached to a collection answer from its files and cite them. "
            "Drop a folder here to index it; folders are watched for changes while Hearth runs.",
            self,
        )
        hint.setObjectName("fieldDescription")
        hint.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.add_button, self.sync_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.progress_bar, 1)
        bar_row.addWidget(self.pause_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 12)
        layout.addWidget(heading)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_state, 1)
        layout.addWidget(self.progress_title)
        layout.addLayout(bar_row)
        layout.addWidget(self.current_file)
        layout.addWidget(self.failures_label)
        layout.addWidget(self.failures)
        self._show_failures([])

    # Collections ---------------------------------------------------------------------------

    def refresh(self) -> None:
        self.connection.call(
            lambda api: api.documents.collections(), self.show_collections, self.error.emit
        )

    def show_collections(self, collections: list[CollectionInfo]) -> None:
        selected = self.selected_name()
        self.collections = collections
        self.list.clear()
        for info in collections:
            item = QListWidgetItem(describe_collection(info), self.list)
            item.setData(NAME_ROLE, info.name)
            item.setToolTip("\n".join(info.roots))
            if info.name == selected:
                self.list.setCurrentItem(item)
        if self.queue.progress is not None and not self.queue.progress.finished:
            self._show_row_state(self.queue.progress)
        self._update_buttons()
        self.collections_changed.emit(collections)

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(NAME_ROLE) if item is not None else None

    def _on_selection_changed(self) -> None:
        self._update_buttons()
        name = self.selected_name()
        if name is not None and not self.queue.running:
            self.load_failures(name)

    def load_failures(self, name: str) -> None:
        """The collection's files that could not be indexed, from any run, with the reasons."""
        self._failures_version += 1
        version = self._failures_version

        def show(files: list[FileRecord]) -> None:
            if version == self._failures_version:  # else another collection's came after
                failed = [f for f in files if f.status == "failed"]
                self._show_failures([(f.path, f.error or "failed") for f in failed])

        self.connection.call(lambda api: api.documents.files(name), show, self.error.emit)

    def _update_buttons(self) -> None:
        chosen = self.selected_name()
        for button in (self.sync_button, self.remove_button):
            button.setEnabled(chosen is not None)
            button.setToolTip("" if chosen else "Select a collection first")
        self.add_button.setToolTip(
            f"Add a folder to “{chosen}”"
            if chosen
            else "Choose a folder: a new collection named after it is made"
        )
        empty = self.list.count() == 0
        self.list.setVisible(not empty)
        self.empty_state.setVisible(empty)

    def _show_row_state(self, progress: IngestProgress) -> None:
        """The collection being indexed shows how far it is, a new one at once (its row is
        replaced by the backend's when the list is fetched again)."""
        rows = [self.list.item(i) for i in range(self.list.count())]
        row = next((r for r in rows if r.data(NAME_ROLE) == progress.collection), None)
        if row is None:  # a new collection: selected, so Re-sync and Remove apply to it
            row = QListWidgetItem(self.list)
            row.setData(NAME_ROLE, progress.collection)
            self.list.setCurrentItem(row)
            self._update_buttons()
        state = progress.summary().removeprefix(f"{progress.collection}: ")
        row.setText(f"{progress.collection}\n{state}")

    # Actions -------------------------------------------------------------------------------

    def add_folders(self, name: str, folders: list[str]) -> None:
        self.queue.add(name, folders)

    def sync(self, name: str) -> None:
        self.queue.sync(name)

    def sync_selected(self) -> None:
        name = self.selected_name()
        if name is not None:
            self.sync(name)

    def ask_new_collection(self) -> None:
        dialog = CollectionNameDialog(self)
        dialog.accepted.connect(lambda: self._ask_folder(dialog.name()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def ask_folder_for_selected(self) -> None:
        self._ask_folder(self.selected_name())

    def _ask_folder(self, name: str | None) -> None:
        """With no name, the folder starts a collection named after itself."""
        title = f"Add a folder to {name}" if name else "Add a folder as a new collection"
        dialog = QFileDialog(self, title, QDir.homePath())  # not where Hearth was started
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.fileSelected.connect(
            lambda folder: self.add_folders(name or folder_collection_name(folder), [folder])
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def ask_remove_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove collection",
            f"Remove the collection “{name}” from Hearth? Your files stay where they are.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.accepted.connect(lambda: self.remove(name))
        box.finished.connect(box.deleteLater)
        box.open()

    def remove(self, name: str) -> None:
        self.connection.call(
            lambda api: api.documents.remove(name), lambda _: self.refresh(), self.error.emit
        )

    def toggle_pause(self) -> None:
        progress = self.queue.progress
        if self.queue.running:
            self.queue.pause()
        elif progress is not None and progress.paused:
            self.queue.resume()

    # Dropping folders ----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        # Files and folders alike: the backend reads both, and checking here would touch disk.
        if dropped_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt's name)
        """On a collection's row the folders join it; elsewhere each starts a collection named
        after itself."""
        folders = dropped_paths(event)
        if not folders:
            return
        event.acceptProposedAction()
        row = self.list.itemAt(self.list.mapFrom(self, event.position().toPoint()))
        if row is not None:
            self.add_folders(row.data(NAME_ROLE), folders)
            return
        for folder in folders:
            self.add_folders(folder_collection_name(folder), [folder])

    # Progress ------------------------------------------------------------------------------

    def show_progress(self, progress: IngestProgress) -> None:
        for part in self._progress_parts():
            # Once a run is done its title says how it ended; a full bar and a Pause that
            # cannot pause would only say it again.
            part.setVisible(part is self.progress_title or not progress.finished)
        self.progress_title.setText(progress.summary())
        self.progress_bar.setValue(progress.percent)
        self.current_file.setText(progress.current_line())
        self.pause_button.setText("Resume" if progress.paused else "Pause")
        self.pause_button.setEnabled(
            not progress.finished and progress.error is None and not progress.waiting_for_engine
        )
        self._failures_version += 1  # the live run's list wins over one still being fetched
        self._show_failures(progress.failures)
        if progress.error is None and not progress.waiting_for_engine:
            self._show_row_state(progress)

    def _show_failures(self, failures: list[tuple[str, str]]) -> None:
        shown = [self.failures.item(i).text() for i in range(self.failures.count())]
        wanted = [f"{path}: {reason}" for path, reason in failures]
        if shown != wanted:
            self.failures.clear()
            self.failures.addItems(wanted)
        self.failures_label.setVisible(bool(failures))
        self.failures.setVisible(bool(failures))

    def _on_job_ended(self, progress: IngestProgress) -> None:
        self.show_progress(progress)
        if progress.error:
            self.error.emit(progress.summary())
        else:  # this run skips files that failed before: list those too
            self.load_failures(progress.collection)
        self.refresh()
