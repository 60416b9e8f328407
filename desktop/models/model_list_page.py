"""A page of the Models dialog listing installed models, with Use as default, Delete and the
selected model's own settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.models.model_settings_editor import ModelSettingsEditor
from desktop.models.model_table import ModelTable
from desktop.models.model_text import why_not_default_model, why_not_deletable

if TYPE_CHECKING:
    from backend.wire import ModelDescription


class ModelListPage(QWidget):
    """The table of some installed models and what can be done with the selected one."""

    default_requested = Signal(str)
    delete_requested = Signal(str)

    def __init__(self, title: str, note: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = ModelTable(title, self)
        self.note = QLabel(note, self)
        self.note.setWordWrap(True)
        self.default_button = QPushButton("Use as default", self)
        self.default_button.setToolTip("Answer new chats with this model")
        self.delete_button = QPushButton("Delete…", self)
        self.settings = ModelSettingsEditor(self)
        self._default_name = ""
        self.default_button.clicked.connect(lambda: self._request(self.default_requested))
        self.delete_button.clicked.connect(lambda: self._request(self.delete_requested))
        self.table.chosen.connect(self._show_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.default_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.addWidget(self.note)
        column.addWidget(self.table, 1)
        column.addLayout(buttons)
        column.addWidget(self.settings)
        self._show_selected(None)

    def show_models(self, models: list[ModelDescription], default_name: str) -> None:
        self._default_name = default_name
        self.table.show_models(models, default_name)

    def _show_selected(self, model: ModelDescription | None) -> None:
        why_not_default = (
            why_not_default_model(model, self._default_name) if model else "Choose a model"
        )
        self.default_button.setEnabled(why_not_default is None)
        self.default_button.setToolTip(why_not_default or "Answer new chats with this model")
        why_not = why_not_deletable(model) if model is not None else None
        self.delete_button.setEnabled(model is not None and why_not is None)
        self.delete_button.setToolTip(why_not or "Delete the files Hearth downloaded")
        self.settings.show_model(model)

    def _request(self, signal: SignalInstance) -> None:
        model = self.table.selected()
        if model is not None:
            signal.emit(model.name)
