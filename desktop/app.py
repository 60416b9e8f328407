"""The application entry: one QApplication and the main window."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

PLACEHOLDER = (
    "<h2>Hearth</h2>"
    "<p>The desktop window is still being built.</p>"
    "<p>Meanwhile, everything works from a terminal:<br>"
    '<code>hearth chat "your question"</code> and <code>hearth models list</code>.</p>'
)


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Hearth")
        label = QLabel(PLACEHOLDER)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setCentralWidget(label)
        self.resize(720, 480)


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    window = MainWindow()
    window.show()
    return app.exec()
