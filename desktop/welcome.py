"""The first-run welcome: all is local, which model ships, how to add more, and a first try."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.models.model_text import ORIGINS, from_other_app

if TYPE_CHECKING:
    from backend.wire import ModelDescription

EXAMPLE_QUESTION = "Why is the sky blue?"


def welcome_text(default_model: str, models_folder: str, tiny: bool) -> str:
    if tiny:
        about = (
            f"Hearth answers with <b>{default_model}</b>, a tiny demonstration model that ships "
            "with it: it starts in seconds and works offline, but its answers are often wrong. "
            "For real answers, use a better model."
        )
    else:
        about = f"Hearth answers with <b>{default_model}</b>, the default model in Settings."
    return f"""
<h1>Welcome to Hearth</h1>
<p>Hearth is an assistant that runs entirely on this computer. It needs no network:
the model, your conversations and your settings stay on your disk.</p>
<h3>Your model</h3>
<p>{about} You can pick another model for any chat from the list above the conversation.</p>
<h3>A better model</h3>
<p>Hearth ▸ Models shows the models other apps (LM Studio, Ollama, GPT4All, Jan) already
downloaded, and a catalog to download from, marked by what fits this computer.
Any GGUF file works too: <code>hearth models import ~/Downloads/some-model.Q4_K_M.gguf</code>,
or copy <code>.gguf</code> files into <code>{models_folder}</code>.</p>
"""


def best_discovered(models: list[ModelDescription]) -> ModelDescription | None:
    """The largest model another app downloaded that fits in memory, to offer in one click."""
    usable = [
        model
        for model in models
        if from_other_app(model) and model.memory.fits and model.general_type == "model"
    ]
    return max(usable, key=lambda model: model.parameter_count, default=None)


class WelcomePage(QWidget):
    """Shown on first run instead of an empty chat."""

    example_requested = Signal(str)
    dismissed = Signal()
    models_requested = Signal()  # open the Models dialog
    model_offered = Signal(str)  # use this discovered model as the default

    def __init__(
        self, default_model: str, models_folder: str, tiny: bool, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setObjectName("welcomePage")
        self._models_folder = models_folder
        self._offered: str | None = None
        self.text = QLabel(welcome_text(default_model, models_folder, tiny), self)
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
        self.models_button = QPushButton("Get a better model…", self)
        self.models_button.clicked.connect(self.models_requested)
        self.offer_button = QPushButton(self)
        self.offer_button.setVisible(False)
        self.offer_button.clicked.connect(lambda: self.model_offered.emit(self._offered or ""))
        better = QHBoxLayout()
        better.addWidget(self.offer_button)
        better.addWidget(self.models_button)
        better.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.example_button)
        buttons.addWidget(self.start_button)
        buttons.addStretch(1)
        column = QVBoxLayout()
        column.addWidget(self.text)
        column.addLayout(better)
        column.addSpacing(12)
        column.addLayout(buttons)
        column.addStretch(1)
        centred = QHBoxLayout(self)
        centred.setContentsMargins(32, 32, 32, 32)
        centred.addStretch(1)
        centred.addLayout(column, 6)
        centred.addStretch(1)

    def set_default_model(self, default_model: str, models_folder: str, tiny: bool) -> None:
        self._models_folder = models_folder
        self.text.setText(welcome_text(default_model, models_folder, tiny))

    def offer(self, models: list[ModelDescription], default_model: str) -> None:
        """Once the models are known: whether the default is a shipped (tiny) one, and, if so,
        a model another app downloaded that would do better."""
        default = next((model for model in models if model.name == default_model), None)
        tiny = default is not None and default.source == "shipped"
        self.set_default_model(default_model, self._models_folder, tiny)
        found = best_discovered(models) if tiny else None
        self._offered = found.name if found is not None else None
        if found is not None:
            self.offer_button.setText(f"Use {found.name} from {ORIGINS[found.source]}")
        self.offer_button.setVisible(found is not None)
