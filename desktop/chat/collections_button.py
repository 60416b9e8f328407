"""The chat header's Documents button: which collections the open chat answers from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMenu, QPushButton, QWidget

if TYPE_CHECKING:
    from backend.wire import CollectionInfo


class CollectionsButton(QPushButton):
    """A menu with one check box per collection; a chat with none answers from the model alone."""

    chosen = Signal(list)  # the checked collection names

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Documents this chat answers from")
        self.setToolTip("Answer from document collections, with sources")
        self.setMenu(QMenu(self))
        self._names: list[str] = []
        self.selected: list[str] = []
        self._rebuild()

    def set_collections(self, collections: list[CollectionInfo]) -> None:
        self._names = [c.name for c in collections]
        # A removed collection is gone from its chats too (the backend drops it from them).
        self.selected = [name for name in self.selected if name in self._names]
        self._rebuild()

    def select(self, names: list[str]) -> None:
        self.selected = list(names)
        self._rebuild()

    def toggle_collection(self, name: str, checked: bool) -> None:
        names = [n for n in self.selected if n != name] + ([name] if checked else [])
        self.selected = sorted(names)
        self._rebuild()
        self.chosen.emit(self.selected)

    def _rebuild(self) -> None:
        menu = self.menu()
        menu.clear()
        for name in sorted(set(self._names) | set(self.selected)):
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in self.selected)
            action.toggled.connect(lambda checked, n=name: self.toggle_collection(n, checked))
        if not self._names:
            menu.addAction("No collections yet: add one on the Documents tab").setEnabled(False)
        shown = ", ".join(self.selected) if self.selected else "none"
        self.setText(f"Documents: {shown}")
