"""What the user does while a reply streams, or before the engine is up, lands where they meant."""

from __future__ import annotations

from unittest import mock

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QInputDialog, QListWidget

from desktop.main_window import MainWindow
from tests.desktop.conftest import REPLY_TIMEOUT_MS, REPLY_TOKENS
from tests.desktop.test_chat import send_and_hold, stored_messages, type_and_send, wait_for_reply
from tests.inprocess_backend import InProcessBackend


def select_chat(chats: QListWidget, conversation_id: str) -> None:
    ids = [chats.item(row).data(Qt.ItemDataRole.UserRole) for row in range(chats.count())]
    chats.setCurrentRow(ids.index(conversation_id))


def test_earlier_replies_cannot_be_regenerated_during_a_reply(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    type_and_send(qtbot, window, "first question")
    wait_for_reply(qtbot, window)
    first_reply = window.chat_view.views[-1]
    send_and_hold(qtbot, window, fake_backend, "second question")
    assert first_reply.isEnabled() and not first_reply.regenerate_button.isEnabled()
    window.session.regenerate(first_reply.message)  # as if its button were still clickable
    fake_backend.provider.release()
    wait_for_reply(qtbot, window)
    stored = stored_messages(window)
    assert [m["role"] for m in stored] == ["user", "assistant"] * 2
    assert stored[0]["content"] == "first question" and stored[-2]["content"] == "second question"
    assert all(m["status"] == "complete" for m in stored)


def test_switching_chats_mid_reply_opens_the_chat_clicked(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
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
        send_and_hold(qtbot, window, fake_backend, "one more question")
        select_chat(chats, go_to)
        qtbot.waitUntil(lambda: not window.session.generating, timeout=REPLY_TIMEOUT_MS)
        # The chat left behind goes on with its reply, out of sight, to its end.
        fake_backend.provider.release()
        qtbot.waitUntil(
            lambda left=leave: stored_messages(window, left)[-1]["status"] == "complete",
            timeout=REPLY_TIMEOUT_MS,
        )
        qtbot.waitUntil(lambda: window.connection.runner.idle, timeout=REPLY_TIMEOUT_MS)
        QApplication.processEvents()  # an answer queued as the runner went idle is shown
        assert window.connection.runner.idle
        assert window.session.conversation.id == go_to != leave
        assert chats.currentItem().data(Qt.ItemDataRole.UserRole) == go_to


def test_renaming_the_chat_during_a_reply_lets_the_reply_finish(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    send_and_hold(qtbot, window, fake_backend, "a question")
    qtbot.waitUntil(lambda: window.conversations.list.currentItem() is not None)
    with mock.patch.object(QInputDialog, "getText", return_value=("Renamed", True)):
        window.conversations.rename_current()
    qtbot.waitUntil(lambda: window.chat_view.title.text() == "Renamed", timeout=REPLY_TIMEOUT_MS)
    assert window.session.generating and fake_backend.provider.holding.is_set()
    fake_backend.provider.release()
    wait_for_reply(qtbot, window)
    assert window.chat_view.views[-1].message.content == "".join(REPLY_TOKENS)
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
