"""What the user does while a reply streams, or before the engine is up, lands where they meant."""

from __future__ import annotations

from unittest import mock

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QListWidget

from desktop.main_window import MainWindow
from tests.desktop.conftest import REPLY_TIMEOUT_MS
from tests.desktop.test_chat import stored_messages, type_and_send, wait_for_reply


def send_until_mid_reply(qtbot, window: MainWindow, text: str) -> None:  # type: ignore[no-untyped-def]
    """Send `text` and return while its reply streams. The random test model now and then ends
    a reply within two tokens; then the question is asked again."""
    session = window.session
    for _attempt in range(5):
        type_and_send(qtbot, window, text)
        qtbot.waitUntil(lambda: session.generating, timeout=REPLY_TIMEOUT_MS)
        qtbot.waitUntil(
            lambda: len(session.replies._reply_text) > 2 or not session.generating,
            timeout=REPLY_TIMEOUT_MS,
        )
        if session.generating:
            return
    raise AssertionError("five replies in a row ended within two tokens")


def select_chat(chats: QListWidget, conversation_id: str) -> None:
    ids = [chats.item(row).data(Qt.ItemDataRole.UserRole) for row in range(chats.count())]
    chats.setCurrentRow(ids.index(conversation_id))


def test_earlier_replies_cannot_be_regenerated_during_a_reply(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    type_and_send(qtbot, window, "first question")
    wait_for_reply(qtbot, window)
    first_reply = window.chat_view.views[-1]
    send_until_mid_reply(qtbot, window, "second question")
    assert not first_reply.isEnabled()
    window.session.regenerate(first_reply.message)  # as if its button were still clickable
    qtbot.waitUntil(lambda: not window.session.generating, timeout=REPLY_TIMEOUT_MS)
    stored = stored_messages(window)
    assert [m["role"] for m in stored] == ["user", "assistant"] * (len(stored) // 2)
    assert stored[0]["content"] == "first question" and stored[-2]["content"] == "second question"


def test_switching_chats_mid_reply_opens_the_chat_clicked(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    type_and_send(qtbot, window, "chat A question")
    wait_for_reply(qtbot, window)
    chat_a = window.session.conversation.id
    window.conversations.new_chat()
    type_and_send(qtbot, window, "chat B question")
    wait_for_reply(qtbot, window)
    chat_b = window.session.conversation.id
    chats = window.conversations.list
    qtbot.waitUntil(lambda: chats.count() == 2)
    for leave, go_to in [(chat_b, chat_a), (chat_a, chat_b), (chat_b, chat_a)]:
        send_until_mid_reply(qtbot, window, "one more question")
        select_chat(chats, go_to)
        qtbot.waitUntil(lambda: not window.session.generating, timeout=REPLY_TIMEOUT_MS)
        # Long enough for any late reload of the chat left behind to have arrived.
        qtbot.waitUntil(lambda: window.connection.runner.idle, timeout=REPLY_TIMEOUT_MS)
        qtbot.wait(300)
        assert window.session.conversation.id == go_to != leave
        assert chats.currentItem().data(Qt.ItemDataRole.UserRole) == go_to


def test_renaming_the_chat_during_a_reply_lets_the_reply_finish(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    send_until_mid_reply(qtbot, window, "a question")
    qtbot.waitUntil(lambda: window.conversations.list.currentItem() is not None)
    with mock.patch.object(QInputDialog, "getText", return_value=("Renamed", True)):
        window.conversations.rename_current()
    qtbot.waitUntil(lambda: window.chat_view.title.text() == "Renamed", timeout=REPLY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.session.generating, timeout=REPLY_TIMEOUT_MS)
    assert all(m["status"] == "complete" for m in stored_messages(window))


def test_an_edit_stays_with_its_chat_and_types_at_the_end(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    type_and_send(qtbot, window, "chat A question")
    wait_for_reply(qtbot, window)
    composer = window.chat_view.composer
    qtbot.mouseClick(window.chat_view.views[0].edit_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(composer.prompt, ", edited")
    assert composer.prompt.toPlainText() == "chat A question, edited"
    window.conversations.new_chat()
    assert composer.prompt.toPlainText() == "" and not composer.editing_note.isVisible()
    type_and_send(qtbot, window, "chat B question")
    wait_for_reply(qtbot, window)
    assert [m["content"] for m in stored_messages(window)][0] == "chat B question"


def test_a_message_sent_before_the_engine_is_ready_is_kept(
    qtbot,  # type: ignore[no-untyped-def]
    offline_window: MainWindow,
) -> None:
    type_and_send(qtbot, offline_window, "a carefully written question")
    assert offline_window.chat_view.composer.prompt.toPlainText() == "a carefully written question"
    assert "still starting" in offline_window.statusBar().currentMessage()
    # The notice has room to be seen: the engine's state keeps to the right of the bar.
    bar, state = offline_window.statusBar(), offline_window.status
    assert state.geometry().left() > bar.width() // 2
