"""Images through the backend app served in process, with the real image service and the tiny
CLIP (the chat model scripted): drop, paste and send an image with its labels, and search an
indexed folder by description."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QDir, Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QLabel

from backend.llm.types import ChatRequest
from backend.paths import HomeLayout
from desktop.main_window import MainWindow
from tests.desktop.conftest import READY_TIMEOUT_MS, REPLY_TOKENS
from tests.desktop.drops import drop_files
from tests.desktop.test_chat import stored_messages, type_and_send, wait_for_reply
from tests.inprocess_backend import InProcessBackend

LABEL_TIMEOUT_MS = 30_000


def write_photo(path: Path, colour: str, size: tuple[int, int] = (320, 240)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def has_thumbnail(label: QLabel) -> bool:
    return not label.pixmap().isNull()


def labelled(chip) -> bool:  # type: ignore[no-untyped-def]
    return "%" in chip.labels.text()


def guesses(attachment: dict[str, Any]) -> str:
    """An attachment's labels as the prompt of a model that cannot see lists them."""
    return ", ".join(f"{item['label']} ({item['score']:.0%})" for item in attachment["labels"])


def test_dropped_and_pasted_images_go_with_the_message_and_show_their_labels(
    qtbot,  # type: ignore[no-untyped-def]
    image_backend: InProcessBackend,
    open_window: Callable[[HomeLayout], MainWindow],
    tmp_path: Path,
) -> None:
    window = open_window(image_backend.layout)
    qtbot.waitUntil(lambda: window.connection.is_ready, timeout=READY_TIMEOUT_MS)
    photo = write_photo(tmp_path / "harbour.png", "steelblue")
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    chat, tray = window.chat_view, window.chat_view.composer.tray

    assert not drop_files(chat, [notes]), "only images are taken"
    assert drop_files(chat, [photo])
    QGuiApplication.clipboard().setImage(QImage(60, 40, QImage.Format.Format_RGB32))
    QGuiApplication.clipboard().image().fill(QColor("orange"))
    chat.composer.prompt.paste()
    qtbot.waitUntil(lambda: len(tray.pending) == 2, timeout=LABEL_TIMEOUT_MS)
    dropped, pasted = (p.chip for p in tray.pending)
    assert dropped.name.text() == "harbour.png" and pasted.name.text() == "pasted image"
    assert tray.pending[1].reference.startswith("data:image/png;base64,")
    qtbot.waitUntil(lambda: labelled(dropped) and labelled(pasted), timeout=LABEL_TIMEOUT_MS)
    qtbot.waitUntil(lambda: has_thumbnail(dropped.thumbnail) and has_thumbnail(pasted.thumbnail))
    assert dropped.labels.text().count("%") == 3, "the three best labels with their scores"

    type_and_send(qtbot, window, "What is in these pictures?")
    wait_for_reply(qtbot, window)
    assert tray.pending == [] and not tray.isVisible()
    question, answer = window.chat_view.views
    assert [c.name.text() for c in question.image_chips] == ["harbour.png", "pasted image"]
    assert all(labelled(chip) for chip in question.image_chips)
    qtbot.waitUntil(lambda: all(has_thumbnail(c.thumbnail) for c in question.image_chips))
    assert answer.message.status == "complete", window.statusBar().currentMessage()
    assert answer.text == "".join(REPLY_TOKENS)
    stored = stored_messages(window)[0]["attachments"]
    assert [a["name"] for a in stored] == ["harbour.png", "pasted image"]
    # The model cannot see: the labels the chips show reached it, in its prompt.
    (request,) = image_backend.provider.requests
    assert isinstance(request, ChatRequest)
    prompt = request.messages[-1]["content"]
    assert prompt.endswith("What is in these pictures?")
    for number, attachment in enumerate(stored, start=1):
        assert f"Image {number} ({attachment['name']}): {guesses(attachment)}" in prompt
    for chip in question.image_chips:
        for line in chip.labels.text().splitlines():
            label, score = line.rsplit(" ", 1)
            assert f"{label} ({score})" in prompt


def test_image_search_indexes_a_folder_and_opens_a_hit(
    qtbot,  # type: ignore[no-untyped-def]
    image_backend: InProcessBackend,
    open_window: Callable[[HomeLayout], MainWindow],
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    window = open_window(image_backend.layout)
    qtbot.waitUntil(lambda: window.connection.is_ready, timeout=READY_TIMEOUT_MS)
    photos = tmp_path / "photos"
    photos.mkdir()
    for colour in ("red", "green", "navy"):
        write_photo(photos / f"{colour}.jpg", colour)
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    panel = window.image_search
    window.tabs.setCurrentWidget(panel)

    panel.index_folder(str(photos))
    qtbot.waitUntil(lambda: panel.index_button.isEnabled(), timeout=LABEL_TIMEOUT_MS)
    assert not panel.progress.isVisible(), "the bar goes once indexing ends"
    assert "of 4 pictures" in panel.status.text()
    assert "could not be read" in panel.status.text()
    (tmp_path / "empty").mkdir()
    panel.index_folder(str(tmp_path / "empty"))
    qtbot.waitUntil(lambda: panel.index_button.isEnabled(), timeout=LABEL_TIMEOUT_MS)
    assert panel.status.text() == f"No pictures found in {tmp_path / 'empty'}."
    assert not panel.progress.isVisible()

    panel.query.setText("a red square")
    qtbot.keyClick(panel.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.grid.count() == 3, timeout=LABEL_TIMEOUT_MS)
    qtbot.waitUntil(lambda: all(not panel.grid.item(i).icon().isNull() for i in range(3)))
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    first = panel.grid.item(0)
    centre = panel.grid.visualItemRect(first).center()
    # A real double-click: press and release, then the double-click event.
    qtbot.mouseClick(panel.grid.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(panel.grid.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert opened == [QUrl.fromLocalFile(first.data(Qt.ItemDataRole.UserRole))]


def test_the_image_button_attaches_the_chosen_file(
    qtbot, offline_window: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Through Qt's own file dialog; with no engine, the chip says why it has no labels."""
    photo = write_photo(tmp_path / "kite.png", "crimson")
    composer = offline_window.chat_view.composer
    offline_window.leave_welcome()
    qtbot.mouseClick(composer.attach_button, Qt.MouseButton.LeftButton)
    dialog = composer.findChild(QFileDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.directory().absolutePath() == QDir.homePath()  # not the working directory
    dialog.selectFile(str(photo))
    dialog.accept()
    (pending,) = composer.tray.pending
    assert pending.reference == str(photo) and composer.tray.isVisible()
    assert pending.chip.labels.text().startswith("Cannot label: The engine is not running")
    qtbot.waitUntil(lambda: has_thumbnail(pending.chip.thumbnail))
