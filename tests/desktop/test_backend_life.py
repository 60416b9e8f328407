"""The backend's life as the window sees it: crash and recovery, an existing backend, shutdown.
A real `hearth serve` wherever its process is the subject."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import psutil
from PySide6.QtCore import Qt

from backend.client import HearthClient
from backend.discovery import load_or_create_token
from backend.paths import HomeLayout
from desktop.backend_connection import BackendState
from desktop.main_window import MainWindow
from tests.desktop.conftest import READY_TIMEOUT_MS, REPLY_TIMEOUT_MS
from tests.desktop.test_chat import stored_messages, type_and_send, wait_for_reply
from tests.inprocess_backend import InProcessBackend


def test_sigkill_during_a_reply_restarts_and_keeps_the_conversation(
    qtbot, served_window: MainWindow
) -> None:  # type: ignore[no-untyped-def]
    window = served_window
    type_and_send(qtbot, window, "one")
    wait_for_reply(qtbot, window)
    first_reply = window.chat_view.views[-1].message.content
    old_pid = window.connection.child_pid
    states: list[BackendState] = []
    window.connection.state_changed.connect(lambda state, _detail: states.append(state))

    def kill_backend_once(_text: str) -> None:
        window.session.token_received.disconnect(kill_backend_once)
        os.kill(old_pid, signal.SIGKILL)

    window.session.token_received.connect(kill_backend_once)
    type_and_send(qtbot, window, "two")

    qtbot.waitUntil(lambda: BackendState.STARTING in states, timeout=READY_TIMEOUT_MS)
    assert "stopped unexpectedly" in window.status.text.text()
    assert "stopped unexpectedly" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.connection.is_ready, timeout=READY_TIMEOUT_MS)
    assert window.connection.child_pid not in (None, old_pid)
    # The reload shows what the backend stored: the reply's row was written as it started,
    # and the new backend marked it interrupted.
    qtbot.waitUntil(
        lambda: (
            [v.message.id for v in window.chat_view.views]
            == [m["id"] for m in stored_messages(window)]
            and len(window.chat_view.views) == 4
        ),
        timeout=REPLY_TIMEOUT_MS,
    )
    views = window.chat_view.views
    assert [v.message.content for v in views[:3]] == ["one", first_reply, "two"]
    assert views[1].message.status == "complete"
    assert views[3].message.status == "interrupted"
    # Shown once the event loop runs: Qt shows a widget added to a visible window later.
    qtbot.waitUntil(lambda: views[3].retry_button.isVisibleTo(window), timeout=5000)

    qtbot.mouseClick(views[3].retry_button, Qt.MouseButton.LeftButton)
    wait_for_reply(qtbot, window)
    stored = stored_messages(window)
    assert [m["content"] for m in stored if m["role"] == "user"] == ["one", "two"]
    assert [m["status"] for m in stored] == ["complete"] * 4


def test_an_already_running_backend_is_used_and_left_running(
    qtbot,  # type: ignore[no-untyped-def]
    fake_backend: InProcessBackend,
    open_window: Callable[[HomeLayout], MainWindow],
) -> None:
    window = open_window(fake_backend.layout)
    qtbot.waitUntil(lambda: window.connection.is_ready, timeout=READY_TIMEOUT_MS)
    assert window.connection.child_pid is None
    assert "already running" in window.status.text.text()
    window.close()
    window.connection.shutdown()
    client = HearthClient(fake_backend.info.url, load_or_create_token(fake_backend.layout))
    try:
        assert client.health().status == "ok", "a backend the GUI did not start keeps running"
    finally:
        client.close()


def test_a_backend_that_cannot_start_is_explained_with_a_restart_button(
    qtbot,  # type: ignore[no-untyped-def]
    home: HomeLayout,
    open_window: Callable[[HomeLayout], MainWindow],
) -> None:
    home.settings.write_text("{not json")
    window = open_window(home)
    assert "not valid Hearth settings" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.status.state == BackendState.ERROR, timeout=READY_TIMEOUT_MS)
    assert "could not start" in window.status.text.text()
    assert window.status.restart_button.isVisibleTo(window)

    home.settings.write_text("{}")  # the user fixes the file, then asks for a restart
    qtbot.mouseClick(window.status.restart_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.connection.is_ready, timeout=READY_TIMEOUT_MS)
    assert not window.status.restart_button.isVisibleTo(window)


def test_quitting_while_the_engine_starts_still_stops_it(
    home: HomeLayout, open_window: Callable[[HomeLayout], MainWindow]
) -> None:
    """The start finishes on a worker after the window has gone; its backend must not linger."""
    window = open_window(home)
    connection = window.connection
    window.close()
    connection.shutdown()  # as `main` does once the event loop has ended
    assert connection.state == BackendState.STARTING, "closed before the start reported back"
    serving = [p for p in psutil.Process().children(recursive=True) if "serve" in p.cmdline()]
    assert serving == []


def test_saving_engine_settings_restarts_the_engine_and_closing_stops_it(
    qtbot, served_window: MainWindow
) -> None:  # type: ignore[no-untyped-def]
    """The theme alone does not restart it."""
    window = served_window
    first_pid = window.connection.child_pid
    states: list[BackendState] = []
    window.connection.state_changed.connect(lambda state, _detail: states.append(state))
    dialog = window.open_settings()
    theme = dialog.editors["theme"].widget
    theme.setCurrentIndex(theme.findData("dark"))
    dialog.save_if_valid()
    qtbot.waitUntil(lambda: window.connection.runner.idle)
    assert BackendState.STARTING not in states and window.connection.child_pid == first_pid

    dialog = window.open_settings()
    dialog.editors["context_size"].widget.setValue(512)
    dialog.save_if_valid()
    qtbot.waitUntil(lambda: BackendState.STARTING in states, timeout=READY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.connection.is_ready, timeout=READY_TIMEOUT_MS)
    assert window.connection.child_pid not in (None, first_pid)
    assert not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == "zombie"
    assert "stopped unexpectedly" not in window.statusBar().currentMessage()
    type_and_send(qtbot, window, "still there?")
    wait_for_reply(qtbot, window)
    assert [m["status"] for m in stored_messages(window)] == ["complete", "complete"]

    # Closing stops the backend the window started.
    child_pid = window.connection.child_pid
    assert child_pid is not None
    window.close()
    window.connection.shutdown()
    assert not psutil.pid_exists(child_pid)
