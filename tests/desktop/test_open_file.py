"""Open file on a system with no program to open it (#20 defect 14): a notice shows the path
with Copy path, from the source preview and from image search alike."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QListWidgetItem, QMessageBox, QWidget

from backend.wire import Source
from desktop.documents.source_preview import SourcePreviewDialog
from desktop.images.image_search_panel import PATH_ROLE
from desktop.main_window import MainWindow


def no_launcher(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """A system where opening any file fails, as QDesktopServices reports it."""
    tried: list[str] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", lambda url: tried.append(url.toLocalFile()) and False
    )
    return tried


def notice(parent: QWidget) -> QMessageBox:
    box = parent.findChild(QMessageBox, "openFileNotice")
    assert box is not None and box.isVisible(), "a notice says the file could not be opened"
    return box


def copy_path(box: QMessageBox) -> str:
    (button,) = [b for b in box.buttons() if b.text() == "Copy path"]
    button.click()
    return QGuiApplication.clipboard().text()


def test_the_source_preview_shows_the_path_to_copy_when_nothing_opens_it(
    qtbot, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    letter = tmp_path / "letter.txt"
    letter.write_text("The boiler service is booked.\n")
    tried = no_launcher(monkeypatch)
    source = Source(n=1, collection="home", path=str(letter), snippet="boiler", score=0.5)
    dialog = SourcePreviewDialog(source, dark=False)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.open_file() is False and tried == [str(letter)]
    box = notice(dialog)
    assert box.informativeText() == str(letter) and "letter.txt" in box.text()
    assert "No program" in box.text()
    assert copy_path(box) == str(letter)


def test_image_search_shows_the_path_when_a_picture_cannot_be_opened(
    qtbot, monkeypatch, offline_window: MainWindow, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    gone = tmp_path / "moved-away.png"
    tried = no_launcher(monkeypatch)
    panel = offline_window.image_search
    item = QListWidgetItem("moved-away.png", panel.grid)
    item.setData(PATH_ROLE, str(gone))
    assert panel.open_item(item) is False and tried == [str(gone)]
    box = notice(panel)
    assert "no longer where it was indexed" in box.text()
    assert copy_path(box) == str(gone)
