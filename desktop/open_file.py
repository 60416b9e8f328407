"""Opening a file in the system's viewer, and what the user sees when no program can open it:
the path, with a button that copies it, instead of nothing at all."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget


def open_file(path: str, parent: QWidget) -> bool:
    """Open `path` with the system's program for it; when that fails, say so and show where
    the file is. True when the system opened it."""
    if QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
        return True
    show_path_notice(path, parent)
    return False


def show_path_notice(path: str, parent: QWidget) -> QMessageBox:
    """A notice with the file's path and Copy path: a system without a launcher (a bare
    desktop, a container) opens nothing, and the user can still open it by hand."""
    reason = (
        "No program on this system is set up to open it. You can open it yourself from here:"
        if Path(path).exists()
        else "It is no longer where it was indexed:"
    )
    box = QMessageBox(
        QMessageBox.Icon.Information,
        "Could not open the file",
        f"Hearth could not open {Path(path).name}. {reason}",
        QMessageBox.StandardButton.Close,
        parent,
    )
    box.setObjectName("openFileNotice")
    box.setInformativeText(path)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    copy = box.addButton("Copy path", QMessageBox.ButtonRole.ActionRole)
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(path))
    box.finished.connect(box.deleteLater)
    box.open()
    return box
