"""A reasoning model's thoughts show collapsed under "Thoughts" (issue #20)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from desktop.chat.thoughts_view import ThoughtsView
from desktop.main_window import MainWindow
from tests.desktop.test_screenshots import (
    CONVERSATION,
    MESSAGES,
    message,
    save,
    screenshot_dir,  # noqa: F401 (a fixture)
    show_sample_chat,
)

THOUGHT = "The user asks for a sum. 2 and 2 make 4; a one-word answer will do."


def test_thoughts_are_collapsed_until_opened_and_say_while_they_stream(
    qtbot,  # type: ignore[no-untyped-def]
    offline_window: MainWindow,
    screenshot_dir: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    window = offline_window
    window.leave_welcome()
    show_sample_chat(window)
    reply = message(id=2, role="assistant", content=f"<think>{THOUGHT}</think>\n\n**Four.**")
    window.chat_view.show_conversation(CONVERSATION, [MESSAGES[0], reply])
    view = window.chat_view.views[-1]
    thoughts = view.findChild(ThoughtsView)
    assert thoughts is not None and thoughts.toggle.text() == "Thoughts"
    assert not thoughts.text.isVisibleTo(window), "collapsed: the answer reads first"
    assert [w.text() for w in view.findChildren(type(thoughts.text)) if w.text() == "**Four.**"]
    save(window, screenshot_dir / "thoughts-collapsed.png")
    qtbot.mouseClick(thoughts.toggle, Qt.MouseButton.LeftButton)
    assert thoughts.text.isVisibleTo(window) and thoughts.text.text() == THOUGHT

    view.set_text("<think>The user asks")
    streaming = view.findChild(ThoughtsView)
    assert streaming is not None and streaming.toggle.text() == "Thinking…"
