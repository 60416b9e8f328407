"""Light and dark palettes, following the system's colour scheme when the choice is "system"."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

LIGHT = {
    QPalette.ColorRole.Window: "#f4f4f5",
    QPalette.ColorRole.WindowText: "#1f2328",
    QPalette.ColorRole.Base: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#eef0f3",
    QPalette.ColorRole.Text: "#1f2328",
    QPalette.ColorRole.Button: "#e9eaee",
    QPalette.ColorRole.ButtonText: "#1f2328",
    QPalette.ColorRole.Highlight: "#c2410c",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.ToolTipBase: "#ffffff",
    QPalette.ColorRole.ToolTipText: "#1f2328",
    QPalette.ColorRole.PlaceholderText: "#6e7781",
    QPalette.ColorRole.Link: "#b4410c",
    QPalette.ColorRole.Mid: "#c9ccd1",
}
DARK = {
    QPalette.ColorRole.Window: "#1e1f22",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#2b2d31",
    QPalette.ColorRole.AlternateBase: "#313338",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#383a40",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.Highlight: "#f97316",
    QPalette.ColorRole.HighlightedText: "#1e1f22",
    QPalette.ColorRole.ToolTipBase: "#2b2d31",
    QPalette.ColorRole.ToolTipText: "#e6e6e6",
    QPalette.ColorRole.PlaceholderText: "#9aa0a6",
    QPalette.ColorRole.Link: "#fb923c",
    QPalette.ColorRole.Mid: "#4e5058",
}


THEMES = ("system", "light", "dark")  # the choices of Settings.theme


def saved_choice(settings_file: Path) -> str:
    """The theme in settings.json, read without the typed settings model: pydantic takes longer
    to import than a bare window takes to paint. Anything unreadable means "system"; the typed
    settings, loaded right after the first paint, have the last word."""
    try:
        saved = json.loads(settings_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "system"
    choice = saved.get("theme") if isinstance(saved, dict) else None
    return choice if choice in THEMES else "system"


def build_palette(dark: bool) -> QPalette:
    palette = QPalette()
    for role, colour in (DARK if dark else LIGHT).items():
        palette.setColor(role, QColor(colour))
    disabled = QColor("#7a7d85" if dark else "#9a9ea6")
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, disabled)
    return palette


def system_prefers_dark() -> bool:
    # Imported here: PySide6 builds all of the Qt namespace's enums on first use (15-50 ms), a
    # cost the first frame pays only when it follows the system.
    from PySide6.QtCore import Qt

    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


class ThemeController(QObject):
    """Applies the chosen theme to the whole application and re-applies it when the system's
    scheme changes while the choice is "system"."""

    changed = Signal(bool)  # dark

    def __init__(self, app: QApplication, choice: str = "system") -> None:
        super().__init__()  # owned by the window that uses it, not by the application
        self._app = app
        self._choice = choice
        self.dark = False
        # Fusion is the one built-in style that honours a custom palette everywhere, and often
        # the platform's default already: then setting it again would only cost start-up time.
        if app.style().name() != "fusion":
            app.setStyle("Fusion")
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_system_changed)
        self.apply(choice)

    @property
    def choice(self) -> str:
        return self._choice

    def apply(self, choice: str) -> None:
        self._choice = choice
        self.dark = system_prefers_dark() if choice == "system" else choice == "dark"
        self._app.setPalette(build_palette(self.dark))
        self._app.setStyleSheet(stylesheet(self.dark))
        self.changed.emit(self.dark)

    def _on_system_changed(self, _scheme: object) -> None:
        if self._choice == "system":
            self.apply("system")


# One template for both themes. Concrete colours rather than palette() references, because
# setting a new style sheet is what makes Qt re-polish every widget when the theme changes.
STYLESHEET_TEMPLATE = """
QFrame#userMessage {{ background: {alternate}; border-radius: 10px; }}
QFrame#assistantMessage {{ background: {base}; border: 1px solid {mid}; border-radius: 10px; }}
QLabel#messageAuthor {{ font-weight: bold; }}
QLabel#messageNote, QLabel#chatStats, QLabel#fieldDescription, QLabel#settingsNote,
QLabel#editingNote {{ color: {muted}; }}
QLabel#settingsProblem, QLabel#modelsProblem {{ color: #d03b3b; }}
QLabel#chatTitle {{ font-size: 15pt; font-weight: bold; }}
QLabel#fieldDescription {{ font-size: 9pt; }}
QListWidget {{ border: none; background: {window}; }}
QListWidget::item {{ padding: 6px 4px; border-radius: 6px; }}
QListWidget::item:selected {{ background: {highlight}; color: {highlighted_text}; }}
"""


def stylesheet(dark: bool) -> str:
    colours = DARK if dark else LIGHT
    role = QPalette.ColorRole
    return STYLESHEET_TEMPLATE.format(
        alternate=colours[role.AlternateBase],
        base=colours[role.Base],
        mid=colours[role.Mid],
        muted=colours[role.PlaceholderText],
        window=colours[role.Window],
        highlight=colours[role.Highlight],
        highlighted_text=colours[role.HighlightedText],
    )
