"""The Models dialog's page for getting models: the curated catalog with a fit badge for this
machine, any Hugging Face repo's GGUF files, and the downloads under way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.models.hub_picker import HubPicker
from desktop.models.model_text import catalog_fit, catalog_size

if TYPE_CHECKING:
    from backend.wire import CatalogEntry

COLUMNS = ("Model", "Good for", "Download", "Quantization", "Vision", "Licence", "On this computer")
GOOD_FOR = 1
LICENCE = 5
LICENCE_WIDTH = 150  # "Qwen Research License (non-commercial)" would take a third of the row
DOWNLOAD_ROW_HEIGHT = 96
DOWNLOADS_HEIGHT = 240  # two downloads' rows and a half
FIT = len(COLUMNS) - 1
# White on a saturated colour reads the same in the light and the dark theme.
BADGE_COLOURS = {"runs well": "#15803d", "tight": "#b45309", "too big": "#b91c1c"}


def catalog_cells(entry: CatalogEntry) -> list[str]:
    model = entry.model
    return [
        model.title,
        model.good_for,
        catalog_size(entry),
        model.quantization,
        "CLIP" if model.kind == "clip" else "yes" if entry.vision else "no",
        model.license,
        catalog_fit(entry, separator="\n"),
    ]


class CatalogTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setAccessibleName("Catalog of models to download")
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(True)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(GOOD_FOR, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(LICENCE, QHeaderView.ResizeMode.Interactive)
        self.setColumnWidth(LICENCE, LICENCE_WIDTH)
        # Two lines a row: what a model is good for wraps, the badge gives its numbers below;
        # longer text is elided, and whole in the tooltip.
        rows = self.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(2 * self.fontMetrics().lineSpacing() + 10)
        self.entries: list[CatalogEntry] = []

    def show_entries(self, entries: list[CatalogEntry]) -> None:
        self.entries = list(entries)
        self.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            for column, text in enumerate(catalog_cells(entry)):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{entry.model.repo}: {entry.model.file}" if column == 0 else text)
                if column == FIT:
                    item.setBackground(QColor(BADGE_COLOURS[entry.fit.badge]))
                    item.setForeground(QColor("#ffffff"))
                self.setItem(row, column, item)

    def selected(self) -> CatalogEntry | None:
        rows = self.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None


class CatalogPage(QWidget):
    """Pick a catalog model or a Hub repo's file; `download_requested` says which."""

    download_requested = Signal(str, object)  # repo, file (None: the backend picks)

    def __init__(self, downloads: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = CatalogTable(self)
        self.download_button = QPushButton("Download", self)
        self.download_button.setEnabled(False)
        self.table.itemSelectionChanged.connect(self._on_catalog_selection)
        self.download_button.clicked.connect(self._download_selected)
        self.hub = HubPicker(self)
        self.hub.download_requested.connect(self.download_requested)
        column = QVBoxLayout(self)
        note = QLabel(
            "Downloads come from Hugging Face, only when you ask; each file is checked against "
            "the sha256 the Hub reports. The badge compares what a model needs with the memory "
            "free on this computer.",
            self,
        )
        note.setWordWrap(True)
        column.addWidget(note)
        column.addWidget(self.table, 2)
        catalog_buttons = QHBoxLayout()
        catalog_buttons.addStretch(1)
        catalog_buttons.addWidget(self.download_button)
        column.addLayout(catalog_buttons)
        column.addWidget(self.hub)
        column.addWidget(QLabel("<b>Downloads</b>", self))
        scroll = QScrollArea(self)  # many downloads scroll rather than squeeze the catalog
        scroll.setWidget(downloads)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setMinimumHeight(DOWNLOAD_ROW_HEIGHT)
        scroll.setMaximumHeight(DOWNLOADS_HEIGHT)
        column.addWidget(scroll, 1)

    def _on_catalog_selection(self) -> None:
        entry = self.table.selected()
        self.download_button.setEnabled(entry is not None)
        if entry is not None and entry.fit.badge == "too big":
            self.download_button.setToolTip(f"Hearth will refuse it: {catalog_fit(entry)}")
        else:
            self.download_button.setToolTip("")

    def _download_selected(self) -> None:
        entry = self.table.selected()
        if entry is not None:
            self.download_requested.emit(entry.model.repo, entry.model.file)
