"""A reply that waits for the model shows "Waiting (N ahead)…" in place of "Writing…", until its
first words arrive (#18 back-pressure)."""

from __future__ import annotations

from desktop.chat.reply_stream import waiting_note
from desktop.main_window import MainWindow
from tests.desktop.conftest import REPLY_TIMEOUT_MS
from tests.desktop.test_chat import type_and_send, wait_for_reply
from tests.inprocess_backend import InProcessBackend


def test_a_waiting_reply_shows_how_many_are_ahead_then_writes(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    queue = fake_backend.services.generations.queue
    ahead = [queue.admit(), queue.admit()]  # two other requests are in line before this one
    for ticket in ahead:
        ticket.join()
    fake_backend.provider.hold_after(0)  # and the window's reply has not begun
    type_and_send(qtbot, window, "Are you busy?")

    def reply_note() -> str:
        views = window.chat_view.views
        return views[-1].note.text() if views and views[-1].message.role == "assistant" else ""

    qtbot.waitUntil(lambda: reply_note() == waiting_note(2), timeout=REPLY_TIMEOUT_MS)
    assert waiting_note(2) == "Waiting (2 ahead)…"
    for ticket in ahead:
        ticket.release()
    fake_backend.provider.step()  # its turn: the first words replace the waiting note
    qtbot.waitUntil(lambda: reply_note() == "Writing…", timeout=REPLY_TIMEOUT_MS)
    fake_backend.provider.release()
    wait_for_reply(qtbot, window)
    qtbot.waitUntil(lambda: window.chat_view.views[-1].message.id != 0)
    assert window.chat_view.views[-1].message.status == "complete"
