"""The dialog a cited source opens: the passage, highlighted, where it is, and Open file."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

import shiboken6
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
    from backend.wire import PassageContext, Source

    # Asks the engine for a source's surroundings and hands them to the callback, if it can.
    ContextLoader = Callable[[Source, Callable[[PassageContext], None]], object]

HIGHLIGHT = {False: "#fde68a", True: "#854d0e"}  # light and dark backgrounds for the passage
SURROUNDINGS = {False: "#57606a", True: "#9ca3af"}  # the text around it, quieter
PASSAGE_ANCHOR = "passage"


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


def _lines(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def passage_html(source: Source, dark: bool, context: PassageContext | None = None) -> str:
    """The passage highlighted, between the text before and after it in its file when
    `context` has found them."""
    trail = f"<p><i>{html.escape(' › '.join(source.headings))}</i></p>" if source.headings else ""
    mark = f"background-color: {HIGHLIGHT[dark]}; color: {'#ffffff' if dark else '#1f2328'};"
    quiet = f"color: {SURROUNDINGS[dark]};"
    around = context if context is not None and context.found else None
    before = f"<span style='{quiet}'>{_lines(around.before)}</span>" if around else ""
    after = f"<span style='{quiet}'>{_lines(around.after)}</span>" if around else ""
    passage = f"<a name='{PASSAGE_ANCHOR}'></a><span style='{mark}'>{_lines(source.snippet)}</span>"
    return f"{trail}<p>{before}{passage}{after}</p>"


class SourcePreviewDialog(QDialog):
    """The passage, then, once `load_context` answers, the text around it in its file."""

    def __init__(
        self,
        source: Source,
        dark: bool,
        parent: QWidget | None = None,
        load_context: ContextLoader | None = None,
        act_on_document: Callable[[QWidget], object] | None = None,
    ) -> None:
        super().__init__(parent)
        self.source, self.dark = source, dark
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
        # Quick actions (Summarize…) on the whole document, when the chat can send one.
        self.actions_button = QPushButton("Actions on this document", self)
        self.actions_button.setVisible(act_on_document is not None)
        if act_on_document is not None:
            self.actions_button.clicked.connect(lambda: act_on_document(self.actions_button))
        buttons.addButton(self.actions_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.clicked.connect(self.open_file)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.path_label)
        layout.addWidget(self.location_label)
        layout.addWidget(self.ocr_label)
        layout.addWidget(self.passage, 1)
        layout.addWidget(buttons)
        self.resize(620, 380)
        if load_context is not None:
            load_context(source, self._context_arrived)

    def _context_arrived(self, context: PassageContext) -> None:
        if shiboken6.isValid(self):  # the dialog may be closed before the engine answers
            self.show_context(context)

    def show_context(self, context: PassageContext) -> None:
        self.passage.setHtml(passage_html(self.source, self.dark, context))
        self.passage.scrollToAnchor(PASSAGE_ANCHOR)

    def open_file(self) -> bool:
        return open_file(self.source.path, self)
