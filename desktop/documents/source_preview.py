"""The dialog a cited source opens: the passage, highlighted, where it is, and Open file."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.open_file import open_file

if TYPE_CHECKING:
    from backend.wire import Source

HIGHLIGHT = {False: "#fde68a", True: "#854d0e"}  # light and dark backgrounds for the passage


def source_location(source: Source) -> str:
    """Where to check a source: 'page 2, lines 3-5' (empty when the file has neither)."""
    parts = []
    if source.page is not None:
        parts.append(f"page {source.page}")
    if source.start_line is not None:
        parts.append(f"lines {source.start_line}–{source.end_line}")
    return ", ".join(parts)


def ocr_note(source: Source) -> str:
    """Says when the passage's words were read by OCR, which can misread them: 'Text read by
    OCR from page 3'; empty for text taken from the file itself."""
    if not source.ocr:
        return ""
    return "Text read by OCR from " + (
        f"page {source.page}" if source.page is not None else "the picture"
    )


def source_title(source: Source) -> str:
    """Like "[2] manual.pdf, page 4" for the button under an answer."""
    name = source.path.rsplit("/", 1)[-1]
    where = source_location(source)
    return f"[{source.n}] {name}" + (f", {where}" if where else "")


def passage_html(source: Source, dark: bool) -> str:
    trail = f"<p><i>{html.escape(' › '.join(source.headings))}</i></p>" if source.headings else ""
    text = html.escape(source.snippet).replace("\n", "<br>")
    mark = f"background-color: {HIGHLIGHT[dark]}; color: {'#ffffff' if dark else '#1f2328'};"
    return f"{trail}<p><span style='{mark}'>{text}</span></p>"


class SourcePreviewDialog(QDialog):
    def __init__(self, source: Source, dark: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.setWindowTitle(f"Source {source.n}")
        self.path_label = QLabel(source.path, self)
        self.path_label.setObjectName("chatTitle")
        self.path_label.setWordWrap(True)
        self.location_label = QLabel(source_location(source) or "whole file", self)
        self.location_label.setObjectName("fieldDescription")
        self.ocr_label = QLabel(ocr_note(source), self)
        self.ocr_label.setObjectName("fieldDescription")
        self.ocr_label.setToolTip("OCR can misread words: check them in the file")
        self.ocr_label.setVisible(source.ocr)
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
        layout.addWidget(self.ocr_label)
        layout.addWidget(self.passage, 1)
        layout.addWidget(buttons)
        self.resize(620, 380)

    def open_file(self) -> bool:
        return open_file(self.source.path, self)
