"""The Models dialog: what is installed (Hearth's and other apps'), the catalog and any Hub
repo to download from, and the downloads. Every backend call runs in a TaskRunner worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.models.catalog_page import CatalogPage
from desktop.models.download_list import DownloadList
from desktop.models.model_list_page import ModelListPage
from desktop.models.model_text import from_other_app

if TYPE_CHECKING:
    from backend.wire import CatalogEntry, ModelDescription, ModelSettings
    from desktop.backend_connection import BackendConnection

HEARTHS_NOTE = (
    "Models Hearth ships, downloaded or imported. The memory column compares what each needs "
    "at its context length with the memory free now."
)
OTHER_APPS_NOTE = (
    "Models other apps downloaded (LM Studio, Ollama, GPT4All, Jan, the Hugging Face cache, "
    "llama.cpp), used where they lie. Hearth never copies or deletes them."
)


class ModelsDialog(QDialog):
    """Kept by the window and shown again, so downloads stay followed while it is closed."""

    default_chosen = Signal(str)  # "Use as default": the window saves it in Settings
    models_changed = Signal(object)  # the installed models, after each refresh

    def __init__(
        self, connection: BackendConnection, default_model: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setObjectName("modelsDialog")
        self.connection = connection
        self.default_model = default_model
        self.models: list[ModelDescription] = []
        self.hearths = ModelListPage("Hearth's models", HEARTHS_NOTE, self)
        self.other_apps = ModelListPage("Models from other apps", OTHER_APPS_NOTE, self)
        self.downloads = DownloadList(connection, self)
        self.catalog = CatalogPage(self.downloads, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.hearths, "Installed")
        self.tabs.addTab(self.other_apps, "From other apps")
        self.tabs.addTab(self.catalog, "Get models")
        self.problem = QLabel(self)
        self.problem.setObjectName("modelsProblem")
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(self.tabs, 1)
        column.addWidget(self.problem)
        column.addWidget(buttons)
        self.resize(1180, 720)
        self._connect()

    def _connect(self) -> None:
        for page in (self.hearths, self.other_apps):
            page.default_requested.connect(self.use_as_default)
            page.delete_requested.connect(self.confirm_delete)
            page.settings.save_requested.connect(self.save_model_settings)
        self.catalog.hub.search_requested.connect(self.search_hub)
        self.catalog.hub.lookup_requested.connect(self.look_up_repo)
        self.catalog.download_requested.connect(self.download)
        self.downloads.installed.connect(lambda _name: self.refresh_models())
        self.downloads.error.connect(self.show_problem)
        # After a restart (a new default, new settings) the lists may have changed.
        self.connection.connected.connect(lambda: self.refresh() if self.isVisible() else None)

    # Reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """The installed models and the catalog, fetched anew."""
        self.refresh_models()
        self.connection.call(
            lambda api: api.models.catalog(), self._show_catalog, self.show_problem
        )

    def refresh_models(self) -> None:
        self.connection.call(
            lambda api: api.models.available(), self._show_models, self.show_problem
        )

    def _show_models(self, models: list[ModelDescription]) -> None:
        self.models = models
        ours = [model for model in models if not from_other_app(model)]
        theirs = [model for model in models if from_other_app(model)]
        self.hearths.show_models(ours, self.default_model)
        self.other_apps.show_models(theirs, self.default_model)
        self.tabs.setTabText(1, f"From other apps ({len(theirs)})")
        self.models_changed.emit(models)

    def _show_catalog(self, entries: list[CatalogEntry]) -> None:
        self.catalog.table.show_entries(entries)

    def search_hub(self, text: str) -> None:
        self.clear_problem()
        self.connection.call(
            lambda api: api.models.search_hub(text), self.catalog.hub.show_hits, self.show_problem
        )

    def look_up_repo(self, repo: str) -> None:
        self.clear_problem()
        self.connection.call(
            lambda api: api.models.hub_repo(repo), self.catalog.hub.show_repo, self.show_problem
        )

    # Changing -----------------------------------------------------------------------------

    def download(self, repo: str, file: str | None) -> None:
        self.clear_problem()
        self.downloads.start(repo, file)

    def use_as_default(self, name: str) -> None:
        self.set_default_model(name)
        self.default_chosen.emit(name)

    def set_default_model(self, name: str) -> None:
        self.default_model = name
        if self.models:
            self._show_models(self.models)

    def confirm_delete(self, name: str) -> None:
        answer = QMessageBox.question(
            self, "Delete model", f"Delete {name} and the files Hearth downloaded for it?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(name)

    def delete(self, name: str) -> None:
        self.clear_problem()
        self.connection.call(
            lambda api: api.models.delete(name),
            lambda _none: self.refresh_models(),
            self.show_problem,
        )

    def save_model_settings(self, name: str, settings: ModelSettings) -> None:
        self.clear_problem()
        self.connection.call(
            lambda api: api.models.update_settings(name, settings),
            lambda _described: self.refresh_models(),
            self.show_problem,
        )

    # Problems -----------------------------------------------------------------------------

    def show_problem(self, message: str) -> None:
        self.problem.setText(message)
        self.problem.setVisible(True)

    def clear_problem(self) -> None:
        self.problem.setVisible(False)
