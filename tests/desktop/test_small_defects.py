"""Small defects a first-time user hit (issue #20): each test here failed before its fix."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from backend.wire import GenerationReport
from desktop.chat.chat_view import format_stats
from desktop.main_window import MainWindow
from tests.desktop.conftest import REPLY_TIMEOUT_MS
from tests.desktop.test_chat import send_and_hold, stored_messages, type_and_send, wait_for_reply
from tests.desktop.test_screenshots import show_sample_chat
from tests.desktop.test_window import activate
from tests.inprocess_backend import InProcessBackend


def test_the_sidebar_new_chat_button_leaves_the_cursor_in_the_message_box(
    qtbot,  # type: ignore[no-untyped-def]
    offline_window: MainWindow,
) -> None:
    window = offline_window
    window.leave_welcome()
    show_sample_chat(window)
    activate(qtbot, window)
    qtbot.mouseClick(window.conversations.new_button, Qt.MouseButton.LeftButton)
    assert window.chat_view.views == []
    typed_into = QApplication.focusWidget()
    assert typed_into is not None
    qtbot.keyClicks(typed_into, "Where next?")
    assert window.chat_view.composer.prompt.toPlainText() == "Where next?"


def test_the_stats_line_never_shows_the_previous_replys_figures(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    stats = window.chat_view.stats
    type_and_send(qtbot, window, "First question")
    wait_for_reply(qtbot, window)
    qtbot.waitUntil(lambda: "tokens/s" in stats.text())
    first_figures = stats.text()

    send_and_hold(qtbot, window, fake_backend, "Second question")
    assert stats.text() in ("", "…")  # while the new reply streams
    window.session.stop()
    fake_backend.provider.step()  # the reading worker sees Stop between events
    wait_for_reply(qtbot, window)
    assert window.chat_view.views[-1].message.status == "interrupted"
    assert stats.text() in ("", "…")

    # Reopened, the chat shows the stopped reply's own figures or none, never the first's.
    qtbot.waitUntil(lambda: len(stored_messages(window)) == 4, timeout=REPLY_TIMEOUT_MS)
    fake_backend.provider.release()
    stopped = stored_messages(window)[-1]
    window.session.reload()
    qtbot.waitUntil(lambda: window.chat_view.views[-1].message.id == stopped["id"])
    expected = format_stats(GenerationReport(**stopped["timings"])) if stopped["timings"] else ""
    assert stats.text() == expected != first_figures
