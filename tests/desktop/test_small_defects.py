"""Small defects a first-time user hit (issue #20): each test here failed before its fix."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop.main_window import MainWindow
from tests.desktop.test_screenshots import show_sample_chat
from tests.desktop.test_window import activate


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
