"""The box that names a new collection: any text that can work, checked as the user types, with
the reason shown while a name cannot be used."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from backend.documents.collection_names import MAX_NAME_LENGTH, collection_name_problem


class CollectionNameDialog(QDialog):
    """Asks for a name; OK stays disabled, with the reason beside it, until the name works."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New collection")
        self.field = QLineEdit(self)
        self.field.setAccessibleName("Name of the collection")
        self.field.setPlaceholderText("For example: My Documents")
        self.field.setMaxLength(MAX_NAME_LENGTH + 1)  # one more, so the reason can be shown
        self.reason = QLabel(self)
        self.reason.setObjectName("fieldDescription")
        self.reason.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Name of the collection:", self))
        layout.addWidget(self.field)
        layout.addWidget(self.reason)
        layout.addWidget(self.buttons)
        self.field.textChanged.connect(self._check)
        self._check("")

    def name(self) -> str:
        return self.field.text().strip()  # spaces around a typed name are never meant

    def _check(self, _text: str) -> None:
        problem = collection_name_problem(self.name())
        blank = not self.name()
        self.reason.setText("" if blank else problem or "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)
