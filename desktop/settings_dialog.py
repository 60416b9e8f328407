"""The settings dialog, generated from the typed Settings model's fields and descriptions."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backend.settings import Settings

HIDDEN_FIELDS = {"schema_version"}
SECRET_HINTS = ("key", "token", "password")
LABELS = {
    "remote_llm_url": "Remote LLM URL",
    "remote_llm_api_key": "Remote LLM API key",
    "hf_token": "Hugging Face token",
}
# Fields naming an installed chat model: picked from the installed models, not typed.
CHAT_MODEL_FIELDS = ("default_model", "documents_model")


def field_label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize().replace("url", "URL"))


def _bounds(info: FieldInfo) -> tuple[int, int]:
    """The field's ge/le limits, clipped to what a QSpinBox holds."""
    low, high = 0, 2**31 - 1
    for rule in info.metadata:
        ge, le = getattr(rule, "ge", None), getattr(rule, "le", None)
        if ge is not None:
            low = ge
        if le is not None:
            high = min(le, high)
    return int(low), int(high)


class FieldEditor:
    """One widget for one settings field, and how to read its value back."""

    def __init__(self, widget: QWidget, read: Callable[[], Any]) -> None:
        self.widget = widget
        self.read = read


def _int_editor(info: FieldInfo, value: Any, parent: QWidget) -> FieldEditor:
    spin = QSpinBox(parent)
    spin.setRange(*_bounds(info))
    spin.setValue(int(value))
    return FieldEditor(spin, spin.value)


def _choice_editor(choices: tuple[str, ...], value: Any, parent: QWidget) -> FieldEditor:
    combo = QComboBox(parent)
    for choice in choices:
        combo.addItem(str(choice).capitalize(), choice)
    combo.setCurrentIndex(max(combo.findData(value), 0))
    return FieldEditor(combo, combo.currentData)


def _text_editor(name: str, value: Any, optional: bool, parent: QWidget) -> FieldEditor:
    line = QLineEdit("" if value is None else str(value), parent)
    if any(hint in name for hint in SECRET_HINTS):
        line.setEchoMode(QLineEdit.EchoMode.Password)
    if optional:
        line.setPlaceholderText("Not set")
    return FieldEditor(line, lambda: (line.text().strip() or None) if optional else line.text())


def _list_editor(value: Any, parent: QWidget) -> FieldEditor:
    """A list of text items as one line, separated by commas."""
    line = QLineEdit(", ".join(value), parent)
    line.setPlaceholderText("None")
    return FieldEditor(
        line, lambda: [item.strip() for item in line.text().split(",") if item.strip()]
    )


def _model_editor(value: str, installed: Sequence[str], parent: QWidget) -> FieldEditor:
    """The installed chat models to pick from; a saved name that is not installed (any more)
    stays listed, marked, so opening and saving the dialog never changes it."""
    combo = QComboBox(parent)
    for name in installed:
        combo.addItem(name, name)
    if value not in installed:
        combo.addItem(f"{value} (not installed)", value)
    combo.setCurrentIndex(combo.findData(value))
    return FieldEditor(combo, combo.currentData)


def editor_for(name: str, info: FieldInfo, value: Any, parent: QWidget) -> FieldEditor:
    """Choose a widget from the field's annotation: int, Literal choices, a list of text (one
    line, commas between), or (optional) text."""
    annotation = info.annotation
    args = typing.get_args(annotation)
    if annotation is int:
        return _int_editor(info, value, parent)
    if typing.get_origin(annotation) is list:
        return _list_editor(value, parent)
    if typing.get_origin(annotation) is typing.Literal:
        return _choice_editor(args, value, parent)
    optional = isinstance(annotation, types.UnionType) and type(None) in args
    return _text_editor(name, value, optional, parent)


class SettingsDialog(QDialog):
    """Edits a copy of the settings; `result_settings()` is the validated new value.
    `installed_models` are the chat models the model fields offer."""

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        installed_models: Sequence[str] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Hearth settings")
        self.setObjectName("settingsDialog")
        self._settings = settings
        self._result: Settings | None = None
        self._installed_models = list(installed_models)
        self.editors: dict[str, FieldEditor] = {}
        form = QFormLayout()
        form.setVerticalSpacing(4)
        for name, info in Settings.model_fields.items():
            if name in HIDDEN_FIELDS:
                continue
            self._add_field(form, name, info)
        self.problem = QLabel(self)
        self.problem.setObjectName("settingsProblem")
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)
        note = QLabel("Saving a change to anything but the theme restarts the engine.", self)
        note.setObjectName("settingsNote")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.save_if_valid)
        buttons.rejected.connect(self.reject)
        # Many fields: they scroll, while the problem, the note and the buttons stay in view.
        fields = QWidget(self)
        fields.setLayout(form)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(fields)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(self.problem)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)
        self.resize(640, 640)

    def _add_field(self, form: QFormLayout, name: str, info: FieldInfo) -> None:
        value = getattr(self._settings, name)
        if name in CHAT_MODEL_FIELDS:
            editor = _model_editor(value, self._installed_models, self)
        else:
            editor = editor_for(name, info, value, self)
        description = info.description or ""
        editor.widget.setAccessibleName(field_label(name))
        editor.widget.setAccessibleDescription(description)
        editor.widget.setToolTip(description)
        caption = QLabel(description, self)
        caption.setObjectName("fieldDescription")
        caption.setWordWrap(True)
        column = QVBoxLayout()
        column.setSpacing(1)
        column.addWidget(editor.widget)
        column.addWidget(caption)
        label = QLabel(field_label(name), self)
        label.setBuddy(editor.widget)
        form.addRow(label, column)
        self.editors[name] = editor

    def values(self) -> dict[str, Any]:
        return {name: editor.read() for name, editor in self.editors.items()}

    def result_settings(self) -> Settings | None:
        return self._result

    def save_if_valid(self) -> None:
        try:
            self._result = Settings.model_validate(self._settings.model_dump() | self.values())
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            self.problem.setText(f"Not saved: {problems}")
            self.problem.setVisible(True)
            return
        self.accept()
