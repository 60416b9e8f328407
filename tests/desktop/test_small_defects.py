"""Small defects a first-time user hit (issue #20): each test here failed before its fix."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from backend.paths import HomeLayout
from backend.wire import GenerationReport
from desktop.chat.chat_view import MAX_TEXT_WIDTH, format_stats
from desktop.main_window import MainWindow
from tests.desktop.conftest import READY_TIMEOUT_MS, REPLY_TIMEOUT_MS
from tests.desktop.drops import drop_files
from tests.desktop.test_chat import send_and_hold, stored_messages, type_and_send, wait_for_reply
from tests.desktop.test_images import labelled, write_photo
from tests.desktop.test_screenshots import show_sample_chat
from tests.desktop.test_window import activate
from tests.inprocess_backend import InProcessBackend


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


def test_the_stats_line_never_shows_the_previous_replys_figures(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    stats = window.chat_view.stats
    type_and_send(qtbot, window, "First question")
    wait_for_reply(qtbot, window)
    qtbot.waitUntil(lambda: "tokens/s" in stats.text())
    first_figures = stats.text()

    send_and_hold(qtbot, window, fake_backend, "Second question")
    assert stats.text() in ("", "…")  # while the new reply streams
    window.session.stop()
    fake_backend.provider.step()  # the reading worker sees Stop between events
    wait_for_reply(qtbot, window)
    assert window.chat_view.views[-1].message.status == "interrupted"
    assert stats.text() in ("", "…")

    # Reopened, the chat shows the stopped reply's own figures or none, never the first's.
    qtbot.waitUntil(lambda: len(stored_messages(window)) == 4, timeout=REPLY_TIMEOUT_MS)
    fake_backend.provider.release()
    stopped = stored_messages(window)[-1]
    window.session.reload()
    qtbot.waitUntil(lambda: window.chat_view.views[-1].message.id == stopped["id"])
    expected = format_stats(GenerationReport(**stopped["timings"])) if stopped["timings"] else ""
    assert stats.text() == expected != first_figures


def install_seeing_model(layout: HomeLayout) -> str:
    """A model with its vision projector beside it, in its own folder (a projector alone in the
    models folder would pair with every model there)."""
    folder = layout.models / "seer"
    folder.mkdir()
    shutil.copy(layout.models / "tiny.gguf", folder / "seer.gguf")
    shutil.copy(layout.models / "tiny.gguf", folder / "seer-mmproj.gguf")
    return "seer"


def test_a_reply_about_an_image_from_a_blind_model_says_so_and_offers_one_that_sees(
    qtbot,  # type: ignore[no-untyped-def]
    image_backend: InProcessBackend,
    open_window: Callable[[HomeLayout], MainWindow],
    tmp_path: Path,
) -> None:
    install_seeing_model(image_backend.layout)
    window = open_window(image_backend.layout)
    qtbot.waitUntil(lambda: window.connection.is_ready, timeout=READY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: any(model.vision for model in window.models))
    (seer,) = [model.name for model in window.models if model.vision]
    chat = window.chat_view
    assert drop_files(chat, [write_photo(tmp_path / "apple.png", "red")])
    tray = chat.composer.tray
    qtbot.waitUntil(lambda: len(tray.pending) == 1 and labelled(tray.pending[0].chip))
    type_and_send(qtbot, window, "What is in this picture?")
    wait_for_reply(qtbot, window)

    # The stored reply replaces the streamed one's view: read the views on screen once it has.
    def caveat_shown() -> bool:
        reply = chat.views[-1]
        caveat = reply.vision_caveat
        return reply.message.id != 0 and caveat is not None and caveat.isVisibleTo(window)

    qtbot.waitUntil(caveat_shown)
    question, answer = chat.views
    assert answer.message.model == "tiny"
    caveat = answer.vision_caveat
    assert caveat is not None
    labels = [guess.label for guess in question.message.attachments[0].labels[:3]]
    assert caveat.label.text() == (
        "This model cannot see images: it was given only labels from the picture "
        f"({', '.join(labels)})."
    )
    assert question.vision_caveat is None  # only under the reply
    assert caveat.use_button.isVisibleTo(window)
    assert caveat.use_button.text() == f"Use {seer} for images"

    # The caveat stays when the chat is opened again.
    window.session.reload()
    qtbot.waitUntil(lambda: chat.views and chat.views[-1] is not answer)
    qtbot.waitUntil(caveat_shown)  # the reopened reply's own caveat, once it is laid out
    reopened = chat.views[-1].vision_caveat
    assert reopened is not None

    qtbot.mouseClick(reopened.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.conversation.model == seer)  # type: ignore[union-attr]
    assert chat.chosen_model() == seer


def test_a_relaunch_reopens_the_chat_that_was_open(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
    open_window: Callable[[HomeLayout], MainWindow],
) -> None:
    type_and_send(qtbot, window, "Which radiator is cold?")
    wait_for_reply(qtbot, window)
    assert window.session.conversation is not None
    chat_id = window.session.conversation.id
    window.close()
    window.connection.shutdown()

    again = open_window(fake_backend.layout)
    qtbot.waitUntil(lambda: again.connection.is_ready, timeout=READY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: len(again.chat_view.views) == 2)
    assert again.session.conversation is not None and again.session.conversation.id == chat_id
    assert again.chat_view.views[0].text == "Which radiator is cold?"
    qtbot.waitUntil(lambda: again.conversations.list.currentItem() is not None)
    assert again.conversations.list.currentItem().text() == "Which radiator is cold?"

    # After New chat, the next launch opens a new chat.
    again.new_chat()
    again.close()
    again.connection.shutdown()
    third = open_window(fake_backend.layout)
    qtbot.waitUntil(lambda: third.connection.is_ready, timeout=READY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: third.conversations.list.count() == 1)
    assert third.session.conversation is None and third.chat_view.views == []


def test_a_stopped_reply_shows_the_text_that_was_stored(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    send_and_hold(qtbot, window, fake_backend, "Tell me a long story")
    window.session.stop()
    fake_backend.provider.step()  # written after Stop, before the backend saw the disconnect
    wait_for_reply(qtbot, window)
    fake_backend.provider.release()
    qtbot.waitUntil(
        lambda: [m["status"] for m in stored_messages(window)] == ["complete", "interrupted"],
        timeout=REPLY_TIMEOUT_MS,
    )
    stored = stored_messages(window)[-1]["content"]
    qtbot.waitUntil(lambda: window.chat_view.views[-1].text == stored)
    assert window.chat_view.views[-1].message.status == "interrupted"


def test_lines_keep_a_readable_width_and_the_title_stays_at_800_px(
    qtbot,  # type: ignore[no-untyped-def]
    offline_window: MainWindow,
) -> None:
    """#20 defect 11: lines ran to about 230 characters at 1920 px, and the title vanished at
    800 px."""
    window = offline_window
    window.leave_welcome()
    show_sample_chat(window)
    window.resize(1920, 1000)
    qtbot.waitUntil(lambda: window.chat_view.width() > 1400)
    QApplication.processEvents()
    reply = window.chat_view.views[-1]
    assert reply.width() <= MAX_TEXT_WIDTH, "a column a person can read"
    centre = reply.mapTo(window.chat_view, reply.rect().center()).x()
    assert abs(centre - window.chat_view.width() / 2) < 40, "the column is centred"
    window.resize(800, 600)
    qtbot.waitUntil(lambda: window.width() <= 820)
    QApplication.processEvents()
    title = window.chat_view.title
    assert title.isVisible() and title.width() >= 80, title.width()


def test_chat_settings_can_be_set_before_the_first_message(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
) -> None:
    """#20 defect 10: the settings of a new chat were refused until a message had created it."""
    dialog = window.session.edit_settings()
    dialog.system_prompt.setPlainText("Answer like a plumber.")
    dialog.temperature.setValue(0.2)
    dialog.accept()
    again = window.session.edit_settings()
    assert again.system_prompt.toPlainText() == "Answer like a plumber.", "kept for the chat"
    again.reject()
    type_and_send(qtbot, window, "Which radiator is cold?")
    wait_for_reply(qtbot, window)
    assert window.session.conversation is not None
    stored = fake_backend.services.store.get(window.session.conversation.id)
    assert stored.system_prompt == "Answer like a plumber."
    assert stored.settings.temperature == 0.2
