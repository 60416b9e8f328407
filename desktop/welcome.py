"""The first-run welcome: all is local, which model ships, how to add more, and a first try."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

EXAMPLE_QUESTION = "Why is the sky blue?"


def welcome_text(default_model: str, models_folder: str) -> str:
    return f"""
<h1>Welcome to Hearth</h1>
<p>Hearth is an assistant that runs entirely on this computer. It needs no network:
the model, your conversations and your settings stay on your disk.</p>
<h3>Your model</h3>
<p>Hearth answers with <b>{default_model}</b>, the default model in Settings.
You can pick another model for any chat from the list above the conversation.</p>
<h3>Bring your own model</h3>
<p>Any GGUF file for llama.cpp works. In a terminal, run<br>
<code>hearth models import ~/Downloads/some-model.Q4_K_M.gguf</code><br>
or copy <code>.gguf</code> files into <code>{models_folder}</code>.</p>
"""


class WelcomePage(QWidget):
    """Shown on first run instead of an empty chat."""

    example_requested = Signal(str)
    dismissed = Signal()

    def __init__(self, default_model: str, models_folder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("welcomePage")
        self.text = QLabel(welcome_text(default_model, models_folder), self)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAccessibleName("Welcome")
        self.example_button = QPushButton(f"Try it: “{EXAMPLE_QUESTION}”", self)
        self.example_button.setAccessibleName("Ask an example question")
        self.example_button.setDefault(True)
        self.example_button.clicked.connect(lambda: self.example_requested.emit(EXAMPLE_QUESTION))
        self.start_button = QPushButton("Start with an empty chat", self)
        self.start_button.setAccessibleName("Close the welcome and start chatting")
        self.start_button.clicked.connect(self.dismissed)
        buttons = QHBoxLayout()
        buttons.addWidget(self.example_button)
        buttons.addWidget(self.start_button)
        buttons.addStretch(1)
        column = QVBoxLayout()
        column.addWidget(self.text)
        column.addSpacing(12)
        column.addLayout(buttons)
        column.addStretch(1)
        centred = QHBoxLayout(self)
        centred.setContentsMargins(32, 32, 32, 32)
        centred.addStretch(1)
        centred.addLayout(column, 6)
        centred.addStretch(1)

    def set_default_model(self, default_model: str, models_folder: str) -> None:
        self.text.setText(welcome_text(default_model, models_folder))
