"""A reply goes on while another chat is open: coming back shows it (live or finished), another
chat's message waits for it and says so, and Stop stops only its own chat's reply (#20)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget

from desktop.main_window import MainWindow
from tests.desktop.conftest import REPLY_TIMEOUT_MS, REPLY_TOKENS
from tests.desktop.test_chat import send_and_hold, stored_messages, type_and_send, wait_for_reply
from tests.desktop.test_chat_races import select_chat
from tests.inprocess_backend import InProcessBackend

FULL_REPLY = "".join(REPLY_TOKENS)


def two_chats(qtbot, window: MainWindow) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Chats 'Radiators' and 'Gutters', each with one finished exchange; 'Gutters' is open."""
    ids = []
    for question in ["Radiators", "Gutters"]:
        window.conversations.new_chat()
        type_and_send(qtbot, window, question)
        wait_for_reply(qtbot, window)
        ids.append(window.session.conversation.id)
    qtbot.waitUntil(lambda: window.conversations.list.count() == 2)
    return ids[0], ids[1]


def open_chat(qtbot, window: MainWindow, conversation_id: str) -> None:  # type: ignore[no-untyped-def]
    chats: QListWidget = window.conversations.list
    select_chat(chats, conversation_id)
    qtbot.waitUntil(
        lambda: (
            window.session.conversation is not None
            and window.session.conversation.id == conversation_id
            and window.chat_view.title.text() != ""
        ),
        timeout=REPLY_TIMEOUT_MS,
    )


def last_note(window: MainWindow) -> str:
    views = window.chat_view.views
    return views[-1].note.text() if views else ""


def shows_no_reply_running(window: MainWindow) -> bool:
    composer = window.chat_view.composer
    return (
        not window.session.generating
        and not composer.stop_button.isVisibleTo(window)
        and composer.send_button.isVisibleTo(window)
        and not composer.prompt.isReadOnly()
        and "Writing" not in last_note(window)
    )


def test_a_reply_left_mid_way_finishes_and_shows_when_its_chat_is_opened_again(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    radiators, gutters = two_chats(qtbot, window)
    open_chat(qtbot, window, radiators)
    send_and_hold(qtbot, window, fake_backend, "How do I bleed one?")
    open_chat(qtbot, window, gutters)
    qtbot.waitUntil(lambda: shows_no_reply_running(window), timeout=REPLY_TIMEOUT_MS)
    assert stored_messages(window, radiators)[-1]["status"] == "generating"
    fake_backend.provider.release()
    qtbot.waitUntil(
        lambda: stored_messages(window, radiators)[-1]["status"] == "complete",
        timeout=REPLY_TIMEOUT_MS,
    )
    assert stored_messages(window, radiators)[-1]["content"] == FULL_REPLY
    open_chat(qtbot, window, radiators)
    qtbot.waitUntil(
        lambda: window.chat_view.views[-1].message.content == FULL_REPLY,
        timeout=REPLY_TIMEOUT_MS,
    )
    assert window.chat_view.views[-1].message.status == "complete"
    assert shows_no_reply_running(window)


def test_coming_back_during_the_reply_shows_it_live_to_its_end(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    radiators, gutters = two_chats(qtbot, window)
    open_chat(qtbot, window, radiators)
    shown = send_and_hold(qtbot, window, fake_backend, "How do I bleed one?")
    open_chat(qtbot, window, gutters)
    open_chat(qtbot, window, radiators)
    qtbot.waitUntil(lambda: window.session.generating, timeout=REPLY_TIMEOUT_MS)
    composer = window.chat_view.composer
    assert composer.stop_button.isVisibleTo(window)
    qtbot.waitUntil(
        lambda: window.chat_view.views[-1].message.content == "".join(shown),
        timeout=REPLY_TIMEOUT_MS,
    )
    question = window.chat_view.views[-2]  # stored before the reply: drawn as it is, not greyed
    assert question.isEnabled() and not question.edit_button.isEnabled()
    fake_backend.provider.release()
    wait_for_reply(qtbot, window)
    qtbot.waitUntil(lambda: window.chat_view.views[-1].message.status == "complete")
    assert window.chat_view.views[-1].message.content == FULL_REPLY
    assert window.chat_view.views[-2].edit_button.isEnabled()
    assert [m["status"] for m in stored_messages(window, radiators)][-1] == "complete"


def gutters_waiting_for_radiators(
    qtbot, window: MainWindow, fake_backend: InProcessBackend
) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A reply held in 'Radiators', and a question sent in 'Gutters' (open) waiting for it."""
    radiators, gutters = two_chats(qtbot, window)
    open_chat(qtbot, window, radiators)
    send_and_hold(qtbot, window, fake_backend, "How do I bleed one?")
    open_chat(qtbot, window, gutters)
    type_and_send(qtbot, window, "How often should they be cleaned?")
    qtbot.waitUntil(lambda: "Waiting" in last_note(window), timeout=REPLY_TIMEOUT_MS)
    return radiators, gutters


def test_another_chats_message_waits_for_the_reply_and_says_whose(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    radiators, gutters = gutters_waiting_for_radiators(qtbot, window, fake_backend)
    qtbot.waitUntil(lambda: last_note(window) == "Waiting for the reply in 'Radiators'…")
    assert window.session.generating  # this chat's own reply, waiting
    fake_backend.provider.release()
    wait_for_reply(qtbot, window)
    qtbot.waitUntil(lambda: window.chat_view.views[-1].message.status == "complete")
    assert window.chat_view.views[-1].message.content == FULL_REPLY
    assert stored_messages(window, radiators)[-1]["status"] == "complete"
    assert stored_messages(window, gutters)[-1]["status"] == "complete"


def test_stop_in_one_chat_leaves_the_other_chats_reply_running(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    radiators, gutters = gutters_waiting_for_radiators(qtbot, window, fake_backend)
    open_chat(qtbot, window, radiators)
    qtbot.waitUntil(lambda: window.session.generating, timeout=REPLY_TIMEOUT_MS)
    qtbot.mouseClick(window.chat_view.composer.stop_button, Qt.MouseButton.LeftButton)
    fake_backend.provider.step()  # the reading worker honours Stop between events
    qtbot.waitUntil(
        lambda: stored_messages(window, radiators)[-1]["status"] == "interrupted",
        timeout=REPLY_TIMEOUT_MS,
    )
    # Gutters' reply was not stopped: it runs once Radiators' has ended, to its end.
    fake_backend.provider.release()
    qtbot.waitUntil(
        lambda: stored_messages(window, gutters)[-1]["status"] == "complete",
        timeout=REPLY_TIMEOUT_MS,
    )
    assert stored_messages(window, gutters)[-1]["content"] == FULL_REPLY
    open_chat(qtbot, window, gutters)
    qtbot.waitUntil(lambda: window.chat_view.views[-1].message.content == FULL_REPLY)
