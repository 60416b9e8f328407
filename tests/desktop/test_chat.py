"""Chatting through the real backend app with a scripted model: streaming, Stop,
edit-and-resend; and once end to end with a real model in a real `hearth serve`."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from backend.client import HearthClient
from backend.discovery import load_or_create_token
from backend.paths import HomeLayout
from desktop.chat.message_view import UNSAVED_ID
from desktop.main_window import MainWindow
from desktop.welcome import EXAMPLE_QUESTION
from desktop.window_state import WindowState
from tests.desktop.conftest import REPLY_TIMEOUT_MS, REPLY_TOKENS
from tests.inprocess_backend import InProcessBackend

HELD_AFTER = 3  # tokens a held reply has shown


def stored_messages(window: MainWindow, conversation_id: str | None = None) -> list[dict]:
    """What the backend has for the open chat or the one named, read directly (the test may
    block; the GUI never does)."""
    assert window.connection.api is not None and window.session.conversation is not None
    client = HearthClient(window.connection.api.url, load_or_create_token(window.home))
    try:
        path = f"/hearth/conversations/{conversation_id or window.session.conversation.id}"
        return client.request("GET", path)["messages"]
    finally:
        client.close()


def type_and_send(qtbot, window: MainWindow, text: str) -> None:  # type: ignore[no-untyped-def]
    prompt = window.chat_view.composer.prompt
    prompt.setFocus()
    qtbot.keyClicks(prompt, text)
    qtbot.keyClick(prompt, Qt.Key.Key_Return)


def wait_for_reply(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """Wait until the reply just asked for has ended. A reply starts at once in an open chat;
    in a new one it starts once the chat exists, and until then no reply is shown."""

    def ended() -> bool:
        views = window.chat_view.views
        return (
            not window.session.generating
            and len(views) >= 2
            and views[-1].message.role == "assistant"
        )

    qtbot.waitUntil(ended, timeout=REPLY_TIMEOUT_MS)


def send_and_hold(qtbot, window: MainWindow, backend: InProcessBackend, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Send `text` and return the tokens shown once its reply is held midway, still streaming."""
    tokens: list[str] = []
    window.session.token_received.connect(tokens.append)
    backend.provider.hold_after(HELD_AFTER)
    type_and_send(qtbot, window, text)
    qtbot.waitUntil(lambda: backend.provider.holding.is_set() and len(tokens) == HELD_AFTER)
    window.session.token_received.disconnect(tokens.append)
    assert window.session.generating
    return tokens


def test_a_sent_message_streams_into_view_and_is_stored(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    tokens: list[str] = []
    window.session.token_received.connect(tokens.append)
    shown = send_and_hold(qtbot, window, fake_backend, "Hello Hearth")
    partial = "".join(shown)
    # The reply appears while it streams, not only at the end.
    qtbot.waitUntil(lambda: window.chat_view.views[-1].text == partial)
    fake_backend.provider.release()
    wait_for_reply(qtbot, window)

    user, reply = (view.message for view in window.chat_view.views)
    assert user.content == "Hello Hearth"
    assert len(tokens) > 5 and reply.content == "".join(tokens) == "".join(REPLY_TOKENS)
    assert 0 < len(partial) < len(reply.content)
    assert reply.status == "complete" and reply.id != UNSAVED_ID
    assert "tokens/s" in window.chat_view.stats.text()
    assert "context" in window.chat_view.stats.text()
    stored = stored_messages(window)
    assert [m["content"] for m in stored] == ["Hello Hearth", reply.content]
    qtbot.waitUntil(lambda: window.conversations.list.count() == 1)
    assert window.conversations.list.item(0).text() == "Hello Hearth"


def test_escape_stops_the_reply_and_retry_answers_again(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    send_and_hold(qtbot, window, fake_backend, "Tell me a long story")
    qtbot.keyClick(window.chat_view.composer.prompt, Qt.Key.Key_Escape)
    # The reading worker honours Stop between events: one more token lets it see it and leave.
    fake_backend.provider.step()
    wait_for_reply(qtbot, window)
    # The backend saw the disconnect and stored the reply as interrupted, not as complete: the
    # model was still held, so only the disconnect could have ended it.
    qtbot.waitUntil(lambda: len(stored_messages(window)) == 2, timeout=REPLY_TIMEOUT_MS)
    assert stored_messages(window)[-1]["status"] == "interrupted"
    # Then the app shows the stored reply in place of the streamed one (its views are rebuilt):
    # the assertions read the view on screen once that has happened.
    qtbot.waitUntil(lambda: window.chat_view.views[-1].retry_button.isVisibleTo(window))

    reply_view = window.chat_view.views[-1]
    assert reply_view.message.status == "interrupted"
    assert reply_view.retry_button.isVisibleTo(window)
    assert "Stopped" in reply_view.note.text()
    assert window.chat_view.composer.send_button.isVisibleTo(window)

    fake_backend.provider.release()
    qtbot.mouseClick(reply_view.retry_button, Qt.MouseButton.LeftButton)
    wait_for_reply(qtbot, window)
    assert [v.message.role for v in window.chat_view.views] == ["user", "assistant"]
    assert window.chat_view.views[-1].message.status == "complete"
    assert [m["status"] for m in stored_messages(window)] == ["complete", "complete"]


def test_edit_and_resend_and_regenerate_replace_what_followed(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    for question in ("First question", "Second question"):
        type_and_send(qtbot, window, question)
        wait_for_reply(qtbot, window)
    first_question = window.chat_view.views[0]

    qtbot.mouseClick(first_question.edit_button, Qt.MouseButton.LeftButton)
    prompt = window.chat_view.composer.prompt
    assert prompt.toPlainText() == "First question"
    assert window.chat_view.composer.editing_note.isVisibleTo(window)
    prompt.selectAll()
    type_and_send(qtbot, window, "First question, edited")
    wait_for_reply(qtbot, window)

    shown = [(v.message.role, v.message.content) for v in window.chat_view.views]
    assert shown[0] == ("user", "First question, edited") and len(shown) == 2
    stored = stored_messages(window)
    assert [(m["role"], m["content"]) for m in stored] == shown

    first_reply_id = window.chat_view.views[-1].message.id
    qtbot.mouseClick(window.chat_view.views[-1].regenerate_button, Qt.MouseButton.LeftButton)
    wait_for_reply(qtbot, window)
    stored = stored_messages(window)
    assert [m["content"] for m in stored if m["role"] == "user"] == ["First question, edited"]
    assert len(stored) == 2 and stored[-1]["id"] != first_reply_id
    assert window.chat_view.views[-1].message.id == stored[-1]["id"]


def test_search_settings_and_model_reach_the_backend_and_closing_cleans_up(
    qtbot, window: MainWindow
) -> None:  # type: ignore[no-untyped-def]
    type_and_send(qtbot, window, "Packing for the mountains")
    wait_for_reply(qtbot, window)
    search = window.conversations.search
    search.setText("zzz-not-there")
    qtbot.waitUntil(lambda: window.conversations.list.count() == 0)
    search.setText("MOUNTAINS")
    qtbot.waitUntil(lambda: window.conversations.list.count() == 1)

    dialog = window.session.edit_settings()
    dialog.system_prompt.setPlainText("Answer in one line.")
    dialog.temperature.setValue(0.2)
    dialog.max_tokens.setValue(64)
    dialog.accept()
    picker = window.chat_view.model_picker
    qtbot.waitUntil(lambda: picker.findData("tiny") > 0, timeout=REPLY_TIMEOUT_MS)
    picker.setCurrentIndex(picker.findData("tiny"))
    picker.activated.emit(picker.currentIndex())
    assert "F16" in picker.currentText()

    def stored_conversation() -> dict:
        conversation = window.session.conversation
        return conversation.model_dump() if conversation is not None else {}

    # The two PATCHes run on separate workers, so either answer may arrive last.
    qtbot.waitUntil(lambda: window.connection.runner.idle)
    window.session.reload()
    qtbot.waitUntil(
        lambda: (
            stored_conversation().get("model") == "tiny"
            and stored_conversation().get("system_prompt") is not None
        )
    )
    conversation = stored_conversation()
    assert conversation["system_prompt"] == "Answer in one line."
    assert conversation["settings"] == {"temperature": 0.2, "top_p": 0.95, "max_tokens": 64}

    # Closing leaves no window or dialog behind (test_backend_life shows that it stops the
    # backend the window started).
    window.close()
    window.connection.shutdown()
    window.deleteLater()
    qtbot.waitUntil(lambda: QApplication.topLevelWidgets() == [])


def test_first_run_welcome_asks_the_example_question_of_a_real_model(
    qtbot,  # type: ignore[no-untyped-def]
    home: HomeLayout,
    open_window: Callable[[HomeLayout], MainWindow],
) -> None:
    WindowState(home).forget_welcome()
    window = open_window(home)
    assert window.pages.currentWidget() is window.welcome
    assert "paced" in window.welcome.text.text(), "names the default model from Settings"
    qtbot.waitUntil(lambda: window.connection.is_ready, timeout=REPLY_TIMEOUT_MS)
    qtbot.mouseClick(window.welcome.example_button, Qt.MouseButton.LeftButton)
    wait_for_reply(qtbot, window)
    assert window.pages.currentWidget() is window.chat_view
    assert window.chat_view.views[0].text == EXAMPLE_QUESTION
    assert window.chat_view.views[1].message.status == "complete"
