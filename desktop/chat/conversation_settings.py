"""The per-conversation dialog: system prompt and sampling (temperature, top_p, max_tokens)."""

from __future__ import annotations

from typing import TypedDict

from PySide6.QtWidgets import (
    QCheckBox,
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

from backend.wire import Conversation, ConversationSettings

# The backend's own defaults (backend/server/schemas.py SamplingFields), shown when unset.
DEFAULT_TEMPERATURE = 0.7
DEFAULT_TOP_P = 0.95


class ConversationChanges(TypedDict, total=False):
    """The fields of a conversation the GUI changes (the PATCH body of its route)."""

    title: str
    system_prompt: str | None
    model: str | None
    collections: list[str]
    settings: dict[str, float | int]  # ConversationSettings as JSON: unset ones left out


def _or_default(value: float | None, default: float) -> float:
    return default if value is None else value


class ConversationSettingsDialog(QDialog):
    def __init__(self, conversation: Conversation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Chat settings")
        settings = conversation.settings
        self.system_prompt = QPlainTextEdit(conversation.system_prompt or "", self)
        self.system_prompt.setAccessibleName("System prompt")
        self.system_prompt.setPlaceholderText("For example: Answer briefly, in plain English.")
        self.system_prompt.setTabChangesFocus(True)
        self.temperature = self._spin(
            0.0, 2.0, 0.05, _or_default(settings.temperature, DEFAULT_TEMPERATURE)
        )
        self.temperature.setAccessibleName("Temperature")
        self.top_p = self._spin(0.05, 1.0, 0.05, _or_default(settings.top_p, DEFAULT_TOP_P))
        self.top_p.setAccessibleName("Top p")
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setRange(0, 32768)
        self.max_tokens.setSpecialValueText("Hearth's default")  # the max_reply_tokens setting
        self.max_tokens.setValue(settings.max_tokens or 0)
        self.max_tokens.setAccessibleName("Maximum reply length in tokens")
        self.step_by_step = QCheckBox("Think step by step before answering", self)
        self.step_by_step.setChecked(bool(settings.think_step_by_step))
        self.step_by_step.setToolTip(
            "For models that do not reason on their own: the reply shows its steps collapsed"
            " under Thoughts. Slower, and often better at sums and puzzles."
        )
        form = QFormLayout()
        form.addRow("System prompt", self.system_prompt)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top p", self.top_p)
        form.addRow("Max reply tokens", self.max_tokens)
        form.addRow("Reasoning", self.step_by_step)
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

    def changes(self) -> ConversationChanges:
        """The system prompt and sampling, as changes to the conversation."""
        settings = ConversationSettings(
            temperature=round(self.temperature.value(), 2),
            top_p=round(self.top_p.value(), 2),
            max_tokens=self.max_tokens.value() or None,  # unset: Hearth's default
            think_step_by_step=self.step_by_step.isChecked() or None,
        )
        prompt = self.system_prompt.toPlainText().strip()
        return {"system_prompt": prompt or None, "settings": settings.model_dump()}
