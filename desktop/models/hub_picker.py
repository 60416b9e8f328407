"""Any Hugging Face repo's GGUF models: search the Hub by name (or name a repo), pick a repo,
then one of its files, and Download."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QLineEdit, QPushButton, QWidget

from desktop.chat.model_picker import human_size

if TYPE_CHECKING:
    from backend.wire import HubChoice, HubRepo, HubSearchHit


def looks_like_repo(text: str) -> bool:
    """owner/name: listed at once rather than searched for."""
    owner, _, name = text.partition("/")
    return bool(owner and name) and " " not in text


def choice_label(choice: HubChoice) -> str:
    files = (
        f"{choice.file} (+{len(choice.files) - 1} parts)" if len(choice.files) > 1 else choice.file
    )
    return f"{files} · {choice.quantization or '?'} · {human_size(choice.size)}"


class HubPicker(QWidget):
    """The backend asks the Hub; this widget only says what the user wants next."""

    search_requested = Signal(str)  # text in repo names
    lookup_requested = Signal(str)  # a repo whose models to list
    download_requested = Signal(str, object)  # repo, file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = QLineEdit(self)
        self.field.setPlaceholderText(
            "Search by name, like qwen3, or a repo like Qwen/Qwen3-1.7B-GGUF"
        )
        self.field.setAccessibleName("Search Hugging Face")
        self.find_button = QPushButton("Find", self)
        self.repos = QComboBox(self)
        self.repos.setAccessibleName("Repos found")
        self.choices = QComboBox(self)
        self.choices.setAccessibleName("The repo's models")
        self.download_button = QPushButton("Download", self)
        self.find_button.clicked.connect(self._find)
        self.field.returnPressed.connect(self._find)
        self.repos.activated.connect(lambda _index: self._list_repo())
        self.download_button.clicked.connect(self._download)
        self._repo: HubRepo | None = None
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Hugging Face:", self), 0, 0)
        grid.addWidget(self.field, 0, 1)
        grid.addWidget(self.find_button, 0, 2)
        grid.addWidget(QLabel("Repo:", self), 1, 0)
        grid.addWidget(self.repos, 1, 1, 1, 2)
        grid.addWidget(QLabel("Model:", self), 2, 0)
        grid.addWidget(self.choices, 2, 1)
        grid.addWidget(self.download_button, 2, 2)
        grid.setColumnStretch(1, 1)
        self._show_choices(None)

    def show_hits(self, hits: list[HubSearchHit]) -> None:
        self.repos.clear()
        for hit in hits:
            self.repos.addItem(f"{hit.repo} · {hit.downloads:,} downloads", hit.repo)
        self.repos.setEnabled(bool(hits))
        if hits:
            self._list_repo()
        else:
            self.repos.addItem("No GGUF repo found", None)

    def show_repo(self, repo: HubRepo) -> None:
        if self.repos.findData(repo.repo) < 0:
            self.repos.clear()
            self.repos.addItem(repo.repo, repo.repo)
            self.repos.setEnabled(True)
        self._show_choices(repo)

    def _show_choices(self, repo: HubRepo | None) -> None:
        self._repo = repo
        self.choices.clear()
        for choice in repo.choices if repo is not None else []:
            self.choices.addItem(choice_label(choice), choice.file)
        usable = bool(self.choices.count())
        self.choices.setEnabled(usable)
        self.download_button.setEnabled(usable)

    def _find(self) -> None:
        text = self.field.text().strip()
        if not text:
            return
        self._show_choices(None)
        if looks_like_repo(text):
            self.repos.clear()
            self.lookup_requested.emit(text)
        else:
            self.search_requested.emit(text)

    def _list_repo(self) -> None:
        repo = self.repos.currentData()
        if repo:
            self._show_choices(None)
            self.lookup_requested.emit(str(repo))

    def _download(self) -> None:
        if self._repo is not None and self.choices.currentData():
            self.download_requested.emit(self._repo.repo, str(self.choices.currentData()))
