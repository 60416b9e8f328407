"""The application entry: the window first, then the backend (found or started) in a worker."""

from __future__ import annotations

import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from backend.paths import HomeLayout
from backend.settings import Settings, SettingsError
from desktop.backend_connection import BackendConnection
from desktop.main_window import MainWindow
from desktop.theme import ThemeController


def load_settings(layout: HomeLayout) -> tuple[Settings, str | None]:
    """The user's settings, or the defaults and a sentence saying why they could not be read."""
    try:
        return Settings.load(layout), None
    except SettingsError as exc:
        return Settings(), str(exc)


def build_window(app: QApplication, layout: HomeLayout) -> MainWindow:
    settings, problem = load_settings(layout)
    theme = ThemeController(app, settings.theme)
    connection = BackendConnection(layout)
    window = MainWindow(connection, theme, settings, layout)
    if problem:
        window.show_notice(problem)
    return window


def quit_on_termination(app: QApplication) -> QTimer:
    """Ctrl+C or SIGTERM quits through the event loop, so the child backend is still stopped.

    Python runs signal handlers only between bytecodes; the idle timer gives it that chance
    while Qt's C++ event loop is waiting."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_args: app.quit())
    wake = QTimer(app)
    wake.start(250)
    wake.timeout.connect(lambda: None)
    return wake


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Hearth")
    app.setApplicationDisplayName("Hearth")
    layout = HomeLayout.current()
    window = build_window(app, layout)
    connection = window.connection
    quit_on_termination(app)
    window.show()
    # Start the backend once the window has painted; the start itself runs in a worker.
    QTimer.singleShot(0, connection.start)
    try:
        return app.exec()
    finally:
        connection.shutdown()  # stops the child backend only if this GUI started it
