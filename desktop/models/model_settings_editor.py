"""One model's own load settings (context length, GPU layers, threads), edited in the dialog."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QPushButton, QSpinBox, QWidget

if TYPE_CHECKING:
    from backend.wire import ModelDescription, ModelSettings

GLOBAL = "Hearth's setting"
FIELD_WIDTH = 220
# (field, label, lowest valid value, highest, tooltip); one below the lowest means "not set".
FIELDS = (
    ("context_size", "Context length", 256, 1 << 20, "Tokens the model reads at once."),
    (
        "gpu_layers",
        "GPU layers",
        -1,
        1000,
        "Layers llama.cpp puts on the GPU, -1 for all; only with a llama.cpp built for a GPU.",
    ),
    ("threads", "Threads", 1, 512, "CPU threads while this model answers."),
)


class ModelSettingsEditor(QGroupBox):
    """Each field is either this model's own value or, at the spin box's lowest, Hearth's."""

    save_requested = Signal(str, object)  # the model's name, the ModelSettings to store

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Settings for this model (applied when it next loads)", parent)
        self.spins: dict[str, QSpinBox] = {}
        form = QFormLayout(self)
        for name, label, low, high, tip in FIELDS:
            spin = QSpinBox(self)
            spin.setRange(low - 1, high)
            spin.setSpecialValueText(GLOBAL)
            spin.setToolTip(tip)
            spin.setAccessibleName(label)
            spin.setFixedWidth(FIELD_WIDTH)
            form.addRow(label, spin)
            self.spins[name] = spin
        self.save_button = QPushButton("Save model settings", self)
        self.save_button.clicked.connect(self._save)
        save_row = QHBoxLayout()
        save_row.addWidget(self.save_button)
        save_row.addStretch(1)
        form.addRow("", save_row)
        self._model: str | None = None
        self.show_model(None)

    def show_model(self, model: ModelDescription | None) -> None:
        self._model = model.name if model is not None else None
        self.setEnabled(model is not None)
        for name, spin in self.spins.items():
            value = getattr(model.settings, name) if model is not None else None
            spin.setValue(spin.minimum() if value is None else value)

    def values(self) -> ModelSettings:
        from backend.wire import ModelSettings

        chosen = {
            name: None if spin.value() == spin.minimum() else spin.value()
            for name, spin in self.spins.items()
        }
        return ModelSettings(**chosen)  # every field set: a cleared one restores Hearth's

    def _save(self) -> None:
        if self._model is not None:
            self.save_requested.emit(self._model, self.values())
