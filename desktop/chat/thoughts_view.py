"""A reasoning model's thoughts: collapsed under "Thoughts" unless opened, so the answer reads
first and the reasoning is there to check."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from desktop.chat.markdown_blocks import Block


class ThoughtsView(QFrame):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("thoughts")
        self.toggle = QToolButton(self)
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAccessibleName("Show or hide the model's thoughts")
        self.toggle.toggled.connect(self._show_thoughts)
        self.text = QLabel(self)
        self.text.setObjectName("thoughtsText")
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.text.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.text)

    def show_block(self, block: Block, dark: bool) -> None:
        self.toggle.setText("Thoughts" if block.finished else "Thinking…")
        if self.text.text() != block.text:
            self.text.setText(block.text)
        self.text.setStyleSheet(f"color: {'#a0a0a0' if dark else '#57606a'};")

    def _show_thoughts(self, shown: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.text.setVisible(shown)
