"""The Images page's list of indexed folders (marked when only another image model indexed
one), and Remove to take a folder out of the image search (its files stay)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.backend_connection import BackendConnection

if TYPE_CHECKING:
    from backend.wire import IndexedFolder, IndexedFolderRemoved

FOLDER_ROLE = Qt.ItemDataRole.UserRole
SHOWN_ROWS = 4  # the list's height in rows; more scroll


def folder_text(folder: IndexedFolder) -> str:
    return folder.folder + ("  (index again: another image model)" if folder.needs_reindex else "")


class IndexedFoldersList(QWidget):
    """Filled from the backend by `refresh` (the page calls it when it shows) and after each
    change."""

    message = Signal(str)  # what happened, for the page's status line

    def __init__(self, connection: BackendConnection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.heading = QLabel("Indexed folders", self)
        self.heading.setObjectName("fieldDescription")
        self.folders = QListWidget(self)
        self.folders.setAccessibleName("Indexed image folders")
        self.folders.currentItemChanged.connect(lambda *_: self._update_button())
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip("Take this folder out of the image search (files stay)")
        self.remove_button.clicked.connect(self.remove_selected)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folders, 1)
        row.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addLayout(row)
        self.setVisible(False)  # until a folder is indexed
        self._update_button()

    def refresh(self) -> None:
        self.connection.call(lambda api: api.images.folders(), self.show_folders, self.message.emit)

    def show_folders(self, folders: list[IndexedFolder]) -> None:
        self.folders.clear()
        for folder in folders:
            item = QListWidgetItem(folder_text(folder), self.folders)
            item.setData(FOLDER_ROLE, folder.folder)
            item.setToolTip(f"{folder.folder}\nindexed by {', '.join(folder.models)}")
        row_height = max(self.folders.sizeHintForRow(0), 1) if folders else 0
        self.folders.setFixedHeight(row_height * SHOWN_ROWS + 2 * self.folders.frameWidth())
        self.setVisible(bool(folders))
        self._update_button()

    def _update_button(self) -> None:
        self.remove_button.setEnabled(self.folders.currentItem() is not None)

    def remove_selected(self) -> None:
        item = self.folders.currentItem()
        if item is None:
            return
        folder: str = item.data(FOLDER_ROLE)
        self.remove_button.setEnabled(False)
        self.connection.call(
            lambda api: api.images.remove_folder(folder), self._removed, self._not_removed
        )

    def _removed(self, removed: IndexedFolderRemoved) -> None:
        pictures = f"{removed.images} picture{'s' if removed.images != 1 else ''}"
        self.message.emit(
            f"Removed {removed.folder} from the image search ({pictures}; the files stay)."
        )
        self.refresh()

    def _not_removed(self, why: str) -> None:
        self.message.emit(f"Could not remove the folder: {why}")
        self.refresh()
