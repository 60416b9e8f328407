"""Regenerate keeps the earlier reply: `< 1/2 >` switches between them (issue #20)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from desktop.main_window import MainWindow
from tests.desktop.test_chat import stored_messages, type_and_send, wait_for_reply
from tests.desktop.test_screenshots import save, screenshot_dir  # noqa: F401 (a fixture)
from tests.inprocess_backend import InProcessBackend


def test_regenerate_keeps_the_earlier_reply_as_a_version_to_go_back_to(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
    screenshot_dir: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    fake_backend.provider.tokens = ("The", " valve", " is", " stuck.")
    type_and_send(qtbot, window, "Why is the radiator cold?")
    wait_for_reply(qtbot, window)
    reply = window.chat_view.views[-1]
    assert not reply.version_label.isVisibleTo(window), "one version: no switch"

    fake_backend.provider.tokens = ("Air", " is", " trapped.")
    qtbot.mouseClick(reply.regenerate_button, Qt.MouseButton.LeftButton)
    wait_for_reply(qtbot, window)

    def shows(text: str, label: str) -> bool:
        # The stored reply may replace the streamed one's view: read the one on screen.
        view = window.chat_view.views[-1]
        shown = view.version_label.isVisibleTo(window)
        return view.text == text and view.version_label.text() == label and shown

    qtbot.waitUntil(lambda: shows("Air is trapped.", "2/2"))
    latest = window.chat_view.views[-1]
    assert not latest.next_version.isEnabled()
    save(window, screenshot_dir / "reply-versions.png")

    qtbot.mouseClick(latest.previous_version, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: shows("The valve is stuck.", "1/2"))
    assert stored_messages(window)[-1]["content"] == "The valve is stuck.", "kept as shown"
