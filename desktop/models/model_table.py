"""A table of installed models: name, origin, size, quantization, context, vision, memory fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from desktop.chat.model_picker import human_size
from desktop.models.model_text import memory_fit, origin

if TYPE_CHECKING:
    from backend.wire import ModelDescription

COLUMNS = ("Model", "From", "Size", "Quantization", "Context", "Vision", "Memory")
STRETCHED = 1  # the origin: long for a repo or an app's folder


def model_cells(model: ModelDescription, default_name: str) -> list[str]:
    name = f"{model.name}  (default)" if model.name == default_name else model.name
    return [
        name,
        origin(model),
        human_size(model.file_size),
        model.quantization or "?",
        f"{model.context_length:,}",
        "yes" if model.vision else "no",
        memory_fit(model),
    ]


class ModelTable(QTableWidget):
    """One row per model, read-only; `chosen` says which model the selected row is."""

    chosen = Signal(object)  # the selected ModelDescription, or None

    def __init__(self, accessible_name: str, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setAccessibleName(accessible_name)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(STRETCHED, QHeaderView.ResizeMode.Stretch)
        self.models: list[ModelDescription] = []
        self.itemSelectionChanged.connect(lambda: self.chosen.emit(self.selected()))

    def show_models(self, models: list[ModelDescription], default_name: str) -> None:
        """Fill the table, keeping the selected model selected."""
        keep = self.selected()
        self.models = list(models)
        self.setRowCount(len(self.models))
        for row, model in enumerate(self.models):
            for column, text in enumerate(model_cells(model, default_name)):
                item = QTableWidgetItem(text)
                item.setToolTip(model.path if column == 1 else text)
                if column == len(COLUMNS) - 1 and not model.memory.fits:
                    item.setForeground(Qt.GlobalColor.red)
                self.setItem(row, column, item)
        if keep is not None:
            self.select_model(keep.name)
        self.chosen.emit(self.selected())

    def selected(self) -> ModelDescription | None:
        rows = self.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows and rows[0].row() < len(self.models) else None

    def select_model(self, name: str) -> bool:
        for row, model in enumerate(self.models):
            if model.name == name:
                self.selectRow(row)
                return True
        return False
