"""The application entry: a window frame that paints at once, then the views and the typed
settings, then the backend (found or started) in a worker."""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from backend.paths import HomeLayout
from desktop.main_window import MainWindow
from desktop.platform_check import xcb_problem
from desktop.theme import ThemeController, saved_choice

if TYPE_CHECKING:
    from backend.settings import Settings


def load_settings(layout: HomeLayout) -> tuple[Settings, str | None]:
    """The user's settings, or the defaults and a sentence saying why they could not be read."""
    from backend.settings import Settings, SettingsError  # pydantic: after the first paint

    try:
        return Settings.load(layout), None
    except SettingsError as exc:
        return Settings(), str(exc)


def open_frame(app: QApplication, layout: HomeLayout) -> MainWindow:
    """The window as its first frame needs it: theme, geometry, menus and engine status."""
    theme = ThemeController(app, saved_choice(layout.settings))
    return MainWindow(theme, layout)


def add_parts(window: MainWindow, layout: HomeLayout) -> None:
    """The typed settings, the backend connection and the views, into an open frame."""
    from desktop.backend_connection import BackendConnection  # imports the settings model

    settings, problem = load_settings(layout)
    window.add_parts(BackendConnection(layout), settings)
    if problem:
        window.show_notice(problem)


def build_window(app: QApplication, layout: HomeLayout) -> MainWindow:
    """The whole window at once, for tests and benchmarks; `main` paints the frame first."""
    window = open_frame(app, layout)
    add_parts(window, layout)
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


def finish_after_first_paint(window: MainWindow, layout: HomeLayout) -> None:
    """Once the frame is on screen: the views, then the backend start (itself in a worker)."""

    def finish() -> None:
        if window.isVisible():  # not closed in the meantime
            add_parts(window, layout)
            QTimer.singleShot(0, window.connection.start)

    # Queued, so the frame is flushed to the screen before the views are built.
    window.first_painted.connect(lambda: QTimer.singleShot(0, finish))


def main() -> int:
    problem = xcb_problem(os.environ)  # one ldd call, about 10 ms
    if problem:  # else Qt aborts, naming no library and no package
        print(problem, file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Hearth")
    app.setApplicationDisplayName("Hearth")
    layout = HomeLayout.current()
    window = open_frame(app, layout)
    quit_on_termination(app)
    finish_after_first_paint(window, layout)
    window.show()
    try:
        return app.exec()
    finally:
        if window.parts_ready:
            window.connection.shutdown()  # stops the child backend only if this GUI started it
