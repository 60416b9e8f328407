"""The per-conversation dialog: system prompt and sampling (temperature, top_p, max_tokens)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

# The backend's own defaults (backend/server/schemas.py SamplingFields), shown when unset.
DEFAULT_TEMPERATURE = 0.7
DEFAULT_TOP_P = 0.95


class ConversationSettingsDialog(QDialog):
    def __init__(self, conversation: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Chat settings")
        settings = conversation.get("settings") or {}
        self.system_prompt = QPlainTextEdit(conversation.get("system_prompt") or "", self)
        self.system_prompt.setAccessibleName("System prompt")
        self.system_prompt.setPlaceholderText("For example: Answer briefly, in plain English.")
        self.system_prompt.setTabChangesFocus(True)
        self.temperature = self._spin(
            0.0, 2.0, 0.05, settings.get("temperature", DEFAULT_TEMPERATURE)
        )
        self.temperature.setAccessibleName("Temperature")
        self.top_p = self._spin(0.05, 1.0, 0.05, settings.get("top_p", DEFAULT_TOP_P))
        self.top_p.setAccessibleName("Top p")
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setRange(0, 32768)
        self.max_tokens.setSpecialValueText("No limit")
        self.max_tokens.setValue(settings.get("max_tokens") or 0)
        self.max_tokens.setAccessibleName("Maximum reply length in tokens")
        form = QFormLayout()
        form.addRow("System prompt", self.system_prompt)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top p", self.top_p)
        form.addRow("Max reply tokens", self.max_tokens)
        hint = QLabel("Lower temperature gives steadier answers; higher, more varied ones.", self)
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.resize(480, 360)

    def _spin(self, low: float, high: float, step: float, value: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setDecimals(2)
        spin.setValue(value)
        return spin

    def changes(self) -> dict[str, Any]:
        """The PATCH body for /hearth/conversations/{id}."""
        settings: dict[str, Any] = {
            "temperature": round(self.temperature.value(), 2),
            "top_p": round(self.top_p.value(), 2),
        }
        if self.max_tokens.value():
            settings["max_tokens"] = self.max_tokens.value()
        prompt = self.system_prompt.toPlainText().strip()
        return {"system_prompt": prompt or None, "settings": settings}
