"""The Images page: describe a photo (or words in it) to find it, a thumbnail grid of the hits
above the backend's cut-off with their scores, Index folder, and the indexed folders."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QDir, QSize, Qt
from PySide6.QtGui import QImage, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.backend_connection import BackendConnection
from desktop.images.indexed_folders_list import IndexedFoldersList
from desktop.images.thumbnails import decode_thumbnail
from desktop.open_file import open_file
from desktop.workers import StreamOperation

if TYPE_CHECKING:
    from backend.wire import ImageHit, ImageIndexEvent

PATH_ROLE = Qt.ItemDataRole.UserRole
GRID_THUMBNAIL = 128
SEARCH_RESULTS = 24


def hit_caption(hit: ImageHit) -> str:
    """Under the thumbnail: the name, then why it was found: its words, or how alike it looks
    (a picture found by its words may look nothing like the query: no low score beside it)."""
    found = "words match" if hit.text else f"{hit.score:.2f}"
    return f"{PurePath(hit.path).name}\n{found}"


def hit_tooltip(hit: ImageHit) -> str:
    read = f"\nits words match: {hit.text}" if hit.text else ""
    return f"{hit.path}\nlooks alike: {hit.score:.2f}{read}"


class ImageSearchPanel(QWidget):
    def __init__(self, connection: BackendConnection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.query = QLineEdit(self)
        self.query.setPlaceholderText(
            "Describe a picture, like “a dog on a beach” — Enter searches"
        )
        self.query.setAccessibleName("Image search")
        self.query.returnPressed.connect(self.search)
        self.search_button = QPushButton("Search", self)
        self.search_button.clicked.connect(self.search)
        self.index_button = QPushButton("Index folder…", self)
        self.index_button.setToolTip("Add a folder of photos to the image search")
        self.index_button.clicked.connect(self.ask_folder)
        self.grid = QListWidget(self)
        self.grid.setViewMode(QListWidget.ViewMode.IconMode)
        self.grid.setIconSize(QSize(GRID_THUMBNAIL, GRID_THUMBNAIL))
        self.grid.setGridSize(QSize(GRID_THUMBNAIL + 24, GRID_THUMBNAIL + 56))
        self.grid.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.grid.setMovement(QListWidget.Movement.Static)
        # Similar names ("holiday-photo-0142.jpg") differ at the end: keep both ends.
        self.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.grid.setAccessibleName("Matching images; double-click opens one")
        self.grid.itemActivated.connect(self.open_item)
        self.status = QLabel(
            "Find your pictures by describing them. First add a folder with Index folder…: "
            "Hearth looks at each picture once, on this computer.",
            self,
        )
        self.status.setObjectName("fieldDescription")
        self.status.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.indexed_folders = IndexedFoldersList(connection, self)
        self.indexed_folders.message.connect(self.status.setText)
        # Asked for when the page shows (and again after a restart while it shows), not at
        # start-up, when the page is out of sight.
        connection.connected.connect(self._refresh_folders_if_shown)
        self._indexing: StreamOperation | None = None
        self._indexed_folder = ""
        self._last_progress: ImageIndexEvent | None = None
        self._search_version = 0  # an answer to an older search is not shown over a newer one
        self._layout_parts()

    def _layout_parts(self) -> None:
        heading = QLabel("Images", self)
        heading.setObjectName("chatTitle")
        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(self.search_button)
        row.addWidget(self.index_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 12)
        layout.addWidget(heading)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.indexed_folders)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._refresh_folders_if_shown()

    def _refresh_folders_if_shown(self) -> None:
        if self.isVisible() and self.connection.is_ready:
            self.indexed_folders.refresh()

    # Searching -----------------------------------------------------------------------------

    def search(self) -> None:
        text = self.query.text().strip()
        if not text:
            return
        self.status.setText("Searching…")
        self._search_version += 1
        version = self._search_version
        self.connection.call(
            lambda api: api.images.search(text, SEARCH_RESULTS),
            lambda hits: self._show_if_current(version, hits),
            lambda message: self._show_if_current(version, message),
        )

    def _show_if_current(self, version: int, answer: list[ImageHit] | str) -> None:
        if version != self._search_version:
            return
        if isinstance(answer, str):
            self.status.setText(answer)
        else:
            self.show_hits(answer)

    def show_hits(self, hits: list[ImageHit]) -> None:
        """The hits the backend kept above its cut-off, best first: pictures whose text holds
        the words, then by similarity, each with its score."""
        self.grid.clear()
        self.status.setText(
            f"{len(hits)} pictures, best match first; weaker matches are left out"
            if hits
            else "No indexed picture matches."
        )
        for hit in hits:
            item = QListWidgetItem(hit_caption(hit), self.grid)
            item.setData(PATH_ROLE, hit.path)
            item.setToolTip(hit_tooltip(hit))
            self._load_icon(item, hit.path)

    def _load_icon(self, item: QListWidgetItem, path: str) -> None:
        grid = self.grid

        def show(image: QImage) -> None:
            if shiboken6.isValid(grid) and grid.row(item) >= 0:
                item.setIcon(QPixmap.fromImage(image))

        self.connection.runner.submit(lambda: decode_thumbnail(path, GRID_THUMBNAIL), show)

    def open_item(self, item: QListWidgetItem) -> bool:
        return open_file(item.data(PATH_ROLE), self)

    # Indexing ------------------------------------------------------------------------------

    def ask_folder(self) -> None:
        dialog = QFileDialog(self, "Index a folder of images", QDir.homePath())
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.fileSelected.connect(self.index_folder)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def index_folder(self, folder: str) -> None:
        if self._indexing is not None:
            return
        stream = self.connection.stream(lambda api: api.images.index_folder(folder))
        if stream is None:
            self.status.setText("The engine is not running yet; try again in a moment.")
            return
        self._indexing = stream
        self._indexed_folder, self._last_progress = folder, None
        self.index_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.status.setText(f"Indexing {folder}…")
        stream.signals.item.connect(self._on_progress)
        self.connection.runner.start(stream, self._indexed, self._index_failed)

    def _on_progress(self, event: ImageIndexEvent) -> None:
        self._last_progress = event
        total = event.total
        self.progress.setValue(int(100 * event.done / total) if total else 100)
        failures = event.failures
        failed = f" · {len(failures)} could not be read" if failures else ""
        self.status.setText(f"Indexed {event.done} of {total} pictures{failed}")
        self.status.setToolTip("\n".join(f"{p}: {why}" for p, why in failures.items()))

    def _indexed(self, completed: bool) -> None:
        self._indexing = None
        self.index_button.setEnabled(True)
        self.progress.setVisible(False)  # the status line says how it ended
        self.indexed_folders.refresh()
        last = self._last_progress
        if not completed:  # the engine went away mid-run; what was embedded is kept
            done = f" after {last.done} of {last.total} pictures" if last else ""
            self.status.setText(
                f"Indexing stopped{done}; index the folder again to finish the rest."
            )
        elif last is None or last.total == 0:
            self.status.setText(f"No pictures found in {self._indexed_folder}.")
        else:
            self.status.setText(indexed_summary(last))

    def _index_failed(self, message: str) -> None:
        self._indexed(True)
        self.status.setText(f"Indexing failed: {message}")


def indexed_summary(last: ImageIndexEvent) -> str:
    failed = f" · {len(last.failures)} could not be read" if last.failures else ""
    text = f" · text read in {last.with_text}" if last.with_text else ""
    return f"Indexed {last.done} of {last.total} pictures{text}{failed}"
