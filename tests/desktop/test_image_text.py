"""The text read in pictures in the app (#19), and the image search page's scores, cut-off,
progress bar and indexed folders (#20, defect 13): through the backend app served in process
with the real image service, the tiny CLIP and the OCR engine (the chat model scripted)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu

from backend.paths import HomeLayout
from desktop.images.image_search_panel import ImageSearchPanel
from desktop.main_window import MainWindow
from tests.desktop.conftest import READY_TIMEOUT_MS
from tests.desktop.drops import drop_files
from tests.desktop.test_chat import type_and_send, wait_for_reply
from tests.desktop.test_images import labelled
from tests.desktop.test_screenshots import (  # noqa: F401 (the screenshot_dir fixture)
    SIDEBAR,
    conversation,
    message,
    save,
    screenshot_dir,
    show_sample_chat,
)
from tests.inprocess_backend import InProcessBackend
from tests.pictures import TERMINAL_ERROR, photo, terminal_screenshot

READ_TIMEOUT_MS = 90_000  # labels and OCR of a screenshot on a busy machine


def ready_window(
    qtbot,  # type: ignore[no-untyped-def]
    backend: InProcessBackend,
    open_window: Callable[[HomeLayout], MainWindow],
) -> MainWindow:
    window = open_window(backend.layout)
    qtbot.waitUntil(lambda: window.connection.is_ready, timeout=READY_TIMEOUT_MS)
    return window


def test_the_text_read_in_an_image_shows_folded_under_its_thumbnail_and_copies(
    qtbot,  # type: ignore[no-untyped-def]
    image_backend: InProcessBackend,
    open_window: Callable[[HomeLayout], MainWindow],
    tmp_path: Path,
) -> None:
    window = ready_window(qtbot, image_backend, open_window)
    chat = window.chat_view
    assert drop_files(chat, [terminal_screenshot(tmp_path / "error.png")])
    tray = chat.composer.tray
    qtbot.waitUntil(lambda: len(tray.pending) == 1, timeout=READ_TIMEOUT_MS)
    chip = tray.pending[0].chip
    qtbot.waitUntil(lambda: labelled(chip), timeout=READ_TIMEOUT_MS)
    read = chip.read_text
    assert read.isVisibleTo(window) and read.toggle.text().startswith("Text read from the image")
    assert not read.text.isVisibleTo(window), "folded until asked for"
    qtbot.mouseClick(read.toggle, Qt.MouseButton.LeftButton)
    assert read.text.isVisibleTo(window)
    assert "Connection refused" in read.text.toPlainText()
    qtbot.mouseClick(read.toggle, Qt.MouseButton.LeftButton)
    assert not read.text.isVisibleTo(window)
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(read.copy_button, Qt.MouseButton.LeftButton)
    assert "Connection refused" in QGuiApplication.clipboard().text()
    assert not read.actions_button.isVisibleTo(window), "quick actions once it is sent"

    type_and_send(qtbot, window, "What does this error say?")
    wait_for_reply(qtbot, window)
    # The stored messages replace the streamed ones: read the views on screen then.
    qtbot.waitUntil(lambda: chat.views[-1].message.id != 0 and chat.views[0].isVisibleTo(window))
    question, answer = chat.views
    (sent,) = question.image_chips
    assert sent.read_text.isVisibleTo(window)
    assert "Connection refused" in sent.read_text.text.toPlainText()
    qtbot.waitUntil(lambda: answer.vision_caveat is not None, timeout=READ_TIMEOUT_MS)
    caveat = answer.vision_caveat
    assert caveat is not None and caveat.isVisibleTo(window)
    assert caveat.label.text().endswith("and the text read from it.")

    # A quick action on the read text (#20): Explain simply sends its prompt over that text.
    qtbot.mouseClick(sent.read_text.actions_button, Qt.MouseButton.LeftButton)
    menu = chat.findChildren(QMenu)[-1]
    explain = next(a for a in menu.actions() if a.text() == "Explain simply")
    explain.trigger()
    qtbot.waitUntil(lambda: len(chat.views) == 4, timeout=READ_TIMEOUT_MS)
    asked = chat.views[2].message.content
    assert asked.startswith("Explain the following text simply")
    assert "Connection refused" in asked


def index_and_wait(qtbot, panel: ImageSearchPanel, folder: Path) -> None:  # type: ignore[no-untyped-def]
    panel.index_folder(str(folder))
    qtbot.waitUntil(lambda: panel.index_button.isEnabled(), timeout=READ_TIMEOUT_MS)


def test_the_grid_shows_scores_leaves_out_weak_matches_and_the_bar_goes(
    qtbot,  # type: ignore[no-untyped-def]
    image_backend: InProcessBackend,
    open_window: Callable[[HomeLayout], MainWindow],
    screenshot_dir: Path,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    window = ready_window(qtbot, image_backend, open_window)
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for seed in range(5):
        photo(pictures / f"holiday-{seed}.jpg", seed, size=(160, 120))
    shot = terminal_screenshot(pictures / "error.png")
    panel = window.image_search
    window.tabs.setCurrentWidget(panel)
    index_and_wait(qtbot, panel, pictures)
    assert not panel.progress.isVisible(), "no bar left at 100% once indexing has ended"
    assert panel.status.text() == "Indexed 6 of 6 pictures · text read in 1"
    # A model as sure as a large CLIP: only the best picture by look is within the cut-off.
    image_backend.services.images.model.logit_scale = 1e6

    panel.query.setText("connection refused")
    qtbot.keyClick(panel.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.grid.count() > 0, timeout=READ_TIMEOUT_MS)
    assert panel.grid.count() < 6, "pictures below the cut-off are left out"
    first = panel.grid.item(0)
    assert first.data(Qt.ItemDataRole.UserRole) == str(shot.resolve())
    name, found = first.text().splitlines()
    assert name == "error.png" and found == "words match"  # not its (low) look-alike score
    assert "its words match: " in first.toolTip() and "looks alike: " in first.toolTip()
    for row in range(1, panel.grid.count()):
        caption = panel.grid.item(row).text().splitlines()[1]
        assert float(caption) <= 1.0  # a picture found by its look shows its score
    qtbot.waitUntil(lambda: not first.icon().isNull())
    qtbot.waitUntil(lambda: panel.indexed_folders.folders.count() == 1)
    save(window, screenshot_dir / "image-search.png")


def test_an_indexed_folder_is_listed_and_can_be_removed(
    qtbot,  # type: ignore[no-untyped-def]
    image_backend: InProcessBackend,
    open_window: Callable[[HomeLayout], MainWindow],
    tmp_path: Path,
) -> None:
    window = ready_window(qtbot, image_backend, open_window)
    panel = window.image_search
    window.tabs.setCurrentWidget(panel)
    listed = panel.indexed_folders
    assert not listed.isVisibleTo(window), "nothing indexed yet"
    for name in ("garden", "kitchen"):
        (tmp_path / name).mkdir()
        photo(tmp_path / name / "0.jpg", seed=len(name), size=(96, 64))
        index_and_wait(qtbot, panel, tmp_path / name)
    folders = listed.folders
    qtbot.waitUntil(lambda: folders.count() == 2, timeout=READ_TIMEOUT_MS)
    assert listed.isVisibleTo(window) and not listed.remove_button.isEnabled()
    garden = str((tmp_path / "garden").resolve())
    folders.setCurrentRow([folders.item(i).text() for i in range(2)].index(garden))
    qtbot.mouseClick(listed.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: folders.count() == 1, timeout=READ_TIMEOUT_MS)
    assert folders.item(0).text() == str((tmp_path / "kitchen").resolve())
    assert panel.status.text().startswith(f"Removed {garden} from the image search (1 picture;")

    panel.query.setText("a photo")
    qtbot.keyClick(panel.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.grid.count() == 1, timeout=READ_TIMEOUT_MS)
    assert "kitchen" in panel.grid.item(0).data(Qt.ItemDataRole.UserRole)


def test_screenshot_of_an_error_question_with_its_read_text_and_the_caveat(
    qtbot,  # type: ignore[no-untyped-def]
    offline_window: MainWindow,
    screenshot_dir: Path,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    show_sample_chat(offline_window)
    shot = terminal_screenshot(tmp_path / "error.png")
    read = "\n".join(TERMINAL_ERROR)
    attachment = {
        "path": str(shot),
        "name": "error.png",
        "labels": [{"label": "a screenshot", "score": 0.64}, {"label": "a sign", "score": 0.2}],
        "text": read,
        "vision_note": "this model cannot see the image; what it says is inferred from CLIP's "
        "labels and the text read from it",
    }
    messages = [
        message(id=7, role="user", content="What does this error say?", attachments=[attachment]),
        message(
            id=8,
            role="assistant",
            model="hearth-smol",
            content="curl could not connect to port 8080 on this computer: the connection was "
            "refused, so nothing is listening there. Start the server, or check its port.",
        ),
    ]
    chat = conversation(id="c6", title="Curl error")
    offline_window.conversations._current = chat.id
    offline_window.conversations.show_conversations([chat, *SIDEBAR])
    offline_window.chat_view.show_conversation(chat, messages)
    question, answer = offline_window.chat_view.views
    (chip,) = question.image_chips
    qtbot.waitUntil(lambda: not chip.thumbnail.pixmap().isNull())
    qtbot.mouseClick(chip.read_text.toggle, Qt.MouseButton.LeftButton)
    assert chip.read_text.text.toPlainText() == read
    caveat = answer.vision_caveat
    assert caveat is not None and caveat.label.text().endswith("and the text read from it.")
    save(offline_window, screenshot_dir / "image-text-question.png")
