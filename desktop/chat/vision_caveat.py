"""The caveat under a reply about an image from a model that cannot see: it was given only
CLIP's labels and the text read in the picture, so what it says about the picture may be
invented. The backend decides: its vision note on the question's attachments says the model
did not see them. When an installed model can see, the caveat offers to switch the chat to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

if TYPE_CHECKING:
    from backend.wire import Attachment

CAVEAT = "This model cannot see images: it was given only labels from the picture ({labels})"
WITH_TEXT = " and the text read from it"
LABELS_SHOWN = 3  # each image's best guesses, as its chip shows them


def caveat_text(attachments: list[Attachment]) -> str | None:
    """The caveat, naming the labels the model was given in place of the pixels and saying
    whether it had the read text too; None when the backend noted no image as unseen."""
    unseen = [attachment for attachment in attachments if attachment.vision_note]
    if not unseen:
        return None
    labels = [guess.label for attachment in unseen for guess in attachment.labels[:LABELS_SHOWN]]
    caveat = CAVEAT.format(labels=", ".join(dict.fromkeys(labels)) or "none could be read")
    return caveat + (WITH_TEXT if any(attachment.text for attachment in unseen) else "") + "."


class VisionCaveat(QFrame):
    """The caveat, and "Use NAME for images" when a model that sees is installed."""

    use_requested = Signal(str)  # the model that sees images

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("visionCaveat")
        self.label = QLabel(self)
        self.label.setObjectName("messageNote")
        self.label.setWordWrap(True)
        self.label.setAccessibleName("Image caveat")
        self._offered = ""  # the model the button switches to
        self.use_button = QPushButton(self)
        self.use_button.clicked.connect(lambda: self.use_requested.emit(self._offered))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.use_button)

    def show_caveat(self, text: str, vision_model: str | None) -> None:
        self.label.setText(text)
        self._offered = vision_model or ""
        self.use_button.setText(f"Use {vision_model} for images")
        self.use_button.setAccessibleName(f"Switch this chat to {vision_model}, which sees images")
        self.use_button.setVisible(vision_model is not None)
