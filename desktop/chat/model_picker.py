"""The model picker: each model's size, quantization and whether it fits in free memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPaintEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter, QWidget

if TYPE_CHECKING:
    from backend.wire import ModelDescription


def human_size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit in ("B", "KB") else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def describe_model(model: ModelDescription) -> str:
    parts = [model.name, model.quantization or "?", human_size(model.file_size)]
    text = " · ".join(parts)
    if not model.memory.fits:
        text += " · too large for free memory"
    return text


MISSING = "\0missing"  # the data of the entry for a chat's model that is not installed


class ModelPicker(QComboBox):
    """Chooses the conversation's model; the first entry means the default from Settings, which
    for a chat with documents is the documents model when it is installed."""

    model_chosen = Signal(object)  # a model name, or None for the default

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Model")
        self.currentTextChanged.connect(self._show_whole_name)
        # The closed box stays compact; the open list widens to show each model's details.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self._updating = False
        self._defaults = ("", "")  # (for a plain chat, for a chat with documents)
        self._with_documents = False
        self._chosen: str | None = None  # the chat's model, shown again when the list changes
        self._listed = False  # whether the installed models are known yet
        self.addItem("Default model", None)
        self.activated.connect(self._on_activated)

    def set_models(
        self, models: list[ModelDescription], default_name: str, documents_name: str
    ) -> None:
        self._listed = True
        self._updating = True
        self.clear()
        installed = {model.name for model in models}
        self._defaults = (
            default_name,
            documents_name if documents_name in installed else default_name,
        )
        self.addItem("", None)
        self._label_default()
        for model in models:
            self.addItem(describe_model(model), model.name)
            index = self.count() - 1
            memory = model.memory
            if not memory.fits:
                # Disabled rather than hidden, so the user learns why the model is unavailable.
                self.item(index).setEnabled(False)
                needed, free = memory.total_bytes, memory.available_bytes
                tip = f"Needs {human_size(needed)}, {human_size(free)} free"
                self.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        self._updating = False
        self.view().setMinimumWidth(self.view().sizeHintForColumn(0) + 24)
        self.select(self._chosen)

    def show_default_for(self, with_documents: bool) -> None:
        self._with_documents = with_documents
        self._label_default()

    def _label_default(self) -> None:
        name = self._defaults[1] if self._with_documents else self._defaults[0]
        self.setItemText(0, f"Default ({name})" if name else "Default model")
        self._show_whole_name()

    def _show_whole_name(self) -> None:
        """The closed box may cut the name short; its tooltip holds the whole of it."""
        self.setToolTip(f"Model for this conversation: {self.currentText()}")

    def item(self, index: int) -> QStandardItem:
        model = self.model()
        assert isinstance(model, QStandardItemModel)  # QComboBox's own model
        return model.item(index)

    def current_model(self) -> str | None:
        data = self.currentData()
        return str(data) if data and data != MISSING else None

    def select(self, name: str | None) -> None:
        """Show the chat's model; one that is not installed gets an entry saying so, rather than
        a "Default" the chat would not use."""
        self._chosen = name
        missing = self.findData(MISSING)
        if missing >= 0:
            self.removeItem(missing)
        index = self.findData(name) if name else 0
        if index < 0 and not self._listed:
            index = 0  # until the list arrives
        elif index < 0:
            self.addItem(f"{name} · not installed", MISSING)
            index = self.count() - 1
            self.item(index).setEnabled(False)
            tip = "This chat's model is not installed: choose another to keep chatting"
            self.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        self.setCurrentIndex(index)

    def shown_text(self) -> str:
        """The current entry as the closed box draws it: cut with an ellipsis where it does not
        fit (the style would clip it mid-letter), the whole of it in the tooltip."""
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        return self.fontMetrics().elidedText(
            self.currentText(), Qt.TextElideMode.ElideRight, field.width()
        )

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        option.currentText = self.shown_text()
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def _on_activated(self, _index: int) -> None:
        if not self._updating:
            self._chosen = self.current_model()
            self.model_chosen.emit(self._chosen)
