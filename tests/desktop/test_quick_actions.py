"""Quick actions on a message or a selection, and as `/name` in the composer (issue #20)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from desktop.main_window import MainWindow
from tests.desktop.test_chat import stored_messages, type_and_send, wait_for_reply
from tests.desktop.test_screenshots import screenshot_dir  # noqa: F401 (a fixture)


def test_a_quick_action_on_a_reply_sends_its_prompt_over_the_reply(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    screenshot_dir: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    type_and_send(qtbot, window, "Which radiator is cold?")
    wait_for_reply(qtbot, window)
    reply = window.chat_view.views[-1]
    qtbot.waitUntil(lambda: reply.actions_button.isVisibleTo(window))
    qtbot.mouseClick(reply.actions_button, Qt.MouseButton.LeftButton)
    menu = window.chat_view.findChildren(QMenu)[-1]
    labels = [action.text() for action in menu.actions()]
    assert labels[:5] == [
        "Summarize",
        "Explain simply",
        "Translate to…",
        "Rewrite formally",
        "Extract action items",
    ]
    assert menu.grab().save(str(screenshot_dir / "quick-actions-menu.png"))
    menu.actions()[0].trigger()
    wait_for_reply(qtbot, window)
    asked = [m for m in stored_messages(window) if m["role"] == "user"][-1]["content"]
    assert asked.startswith("Summarize the following text")
    assert asked.endswith(reply.text.strip())


def test_a_slash_command_in_the_composer_sends_the_actions_prompt(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
) -> None:
    type_and_send(qtbot, window, "/translate French: Good morning")
    wait_for_reply(qtbot, window)
    first = stored_messages(window)[0]["content"]
    assert first.startswith("Translate the following text to French.")
    assert first.endswith("Good morning")
