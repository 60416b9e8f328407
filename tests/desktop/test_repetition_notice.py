"""A reply the loop detector stopped says so, and offers Retry in place of Regenerate."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import Future

import pytest
from PySide6.QtCore import Qt

from backend.llm.types import ChatRequest, Event, EventSink, Finished
from desktop.chat.message_view import REPEATING_NOTE
from desktop.main_window import MainWindow
from tests.desktop.test_chat import stored_messages, type_and_send, wait_for_reply
from tests.inprocess_backend import InProcessBackend


def loop_once(backend: InProcessBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripted model's next reply ends as the runtime's loop detector ends one."""
    provider = backend.provider
    start_chat, replies = provider.start_chat, [0]

    def looping_start(
        request: ChatRequest, sink: EventSink, cancel: threading.Event
    ) -> Future[None]:
        replies[0] += 1
        if replies[0] > 1:
            return start_chat(request, sink, cancel)

        def as_repetition(event: Event) -> None:
            if isinstance(event, Finished):
                event = dataclasses.replace(event, finish_reason="repetition")
            sink(event)

        return start_chat(request, as_repetition, cancel)

    monkeypatch.setattr(provider, "start_chat", looping_start)
    provider.tokens = ("code's", " hash") * 5


def test_a_repeating_reply_shows_the_notice_and_retry_answers_again(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop_once(fake_backend, monkeypatch)
    type_and_send(qtbot, window, "How do I hash code?")
    wait_for_reply(qtbot, window)

    # The stored message has arrived (the views may be rebuilt for it: read the one on screen).
    qtbot.waitUntil(lambda: window.chat_view.views[-1].message.id != 0)
    reply_view = window.chat_view.views[-1]
    assert reply_view.note.text() == REPEATING_NOTE
    qtbot.waitUntil(lambda: reply_view.retry_button.isVisibleTo(window))  # once it is final
    assert not reply_view.regenerate_button.isVisibleTo(window)
    assert stored_messages(window)[-1]["timings"]["finish_reason"] == "repetition"

    fake_backend.provider.tokens = ("Hash", " it", ".")
    qtbot.mouseClick(reply_view.retry_button, Qt.MouseButton.LeftButton)
    wait_for_reply(qtbot, window)
    qtbot.waitUntil(lambda: window.chat_view.views[-1].message.id != 0)  # as above: on screen
    again = window.chat_view.views[-1]
    assert again.message.content == "Hash it."
    assert again.note.text() == ""
    qtbot.waitUntil(lambda: again.regenerate_button.isVisibleTo(window))  # once it is final
    assert not again.retry_button.isVisibleTo(window)
