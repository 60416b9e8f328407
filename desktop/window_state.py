"""What the window remembers between runs (geometry, splitter, first run, the open chat), under
HEARTH_HOME."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from backend.paths import HomeLayout


class WindowState:
    """A QSettings file in HEARTH_HOME, so each data folder keeps its own layout."""

    def __init__(self, layout: HomeLayout) -> None:
        self._store = QSettings(str(layout.root / "desktop.ini"), QSettings.Format.IniFormat)

    def geometry(self) -> QByteArray | None:
        value = self._store.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def splitter(self) -> QByteArray | None:
        value = self._store.value("window/splitter")
        return value if isinstance(value, QByteArray) else None

    def save_layout(self, geometry: QByteArray, splitter: QByteArray) -> None:
        self._store.setValue("window/geometry", geometry)
        self._store.setValue("window/splitter", splitter)

    @property
    def welcome_seen(self) -> bool:
        return bool(self._store.value("welcome/seen", False, type=bool))

    def mark_welcome_seen(self) -> None:
        self._store.setValue("welcome/seen", True)

    def forget_welcome(self) -> None:
        """Show the welcome again on the next start."""
        self._store.setValue("welcome/seen", False)
        self._store.sync()

    @property
    def last_chat(self) -> str | None:
        """The conversation open when the app last closed; None for a new chat."""
        return str(self._store.value("chat/last", "")) or None

    def remember_chat(self, conversation_id: str | None) -> None:
        self._store.setValue("chat/last", conversation_id or "")

    def sync(self) -> None:
        self._store.sync()
