"""The dialog a cited source opens: the passage, highlighted, where it is, and Open file."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

HIGHLIGHT = {False: "#fde68a", True: "#854d0e"}  # light and dark backgrounds for the passage


def source_location(source: dict[str, Any]) -> str:
    """Where to check a source: 'page 2, lines 3-5' (empty when the file has neither)."""
    parts = []
    if source.get("page") is not None:
        parts.append(f"page {source['page']}")
    if source.get("start_line") is not None:
        parts.append(f"lines {source['start_line']}–{source['end_line']}")
    return ", ".join(parts)


def source_title(source: dict[str, Any]) -> str:
    """Like "[2] manual.pdf, page 4" for the button under an answer."""
    name = str(source.get("path", "")).rsplit("/", 1)[-1]
    where = source_location(source)
    return f"[{source.get('n', '?')}] {name}" + (f", {where}" if where else "")


def passage_html(source: dict[str, Any], dark: bool) -> str:
    headings = source.get("headings")
    trail = f"<p><i>{html.escape(str(headings))}</i></p>" if headings else ""
    text = html.escape(str(source.get("snippet", ""))).replace("\n", "<br>")
    mark = f"background-color: {HIGHLIGHT[dark]}; color: {'#ffffff' if dark else '#1f2328'};"
    return f"{trail}<p><span style='{mark}'>{text}</span></p>"


class SourcePreviewDialog(QDialog):
    def __init__(self, source: dict[str, Any], dark: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.setWindowTitle(f"Source {source.get('n', '')}".strip())
        self.path_label = QLabel(str(source.get("path", "")), self)
        self.path_label.setObjectName("chatTitle")
        self.path_label.setWordWrap(True)
        self.location_label = QLabel(source_location(source) or "whole file", self)
        self.location_label.setObjectName("fieldDescription")
        self.passage = QTextBrowser(self)
        self.passage.setAccessibleName("Cited passage")
        self.passage.setHtml(passage_html(source, dark))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.open_button = QPushButton("Open file", self)
        self.open_button.setToolTip("Open the file in the system's viewer")
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.clicked.connect(self.open_file)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.path_label)
        layout.addWidget(self.location_label)
        layout.addWidget(self.passage, 1)
        layout.addWidget(buttons)
        self.resize(620, 380)

    def open_file(self) -> bool:
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.source.get("path", ""))))
