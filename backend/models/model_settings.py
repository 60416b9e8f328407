"""Each model's own load settings (context, GPU layers, threads), in models/model_settings.json.

Keyed by model name; a model without an entry loads with the global settings. The file is read
at every load, so a change made by the CLI reaches a running backend's next load.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from backend.errors import InvalidRequestError
from backend.settings import SettingsError, write_atomically
from backend.wire import ModelSettings

_ALL = TypeAdapter(dict[str, ModelSettings])


class InvalidModelSettingsError(InvalidRequestError, ValueError):
    """A per-model setting out of its range."""

    code = "invalid_model_settings"


class ModelSettingsStore:
    def __init__(self, file: Path) -> None:
        self._file = file
        self._lock = threading.Lock()  # one read-modify-write at a time

    def all(self) -> dict[str, ModelSettings]:
        if not self._file.exists():
            return {}
        try:
            return _ALL.validate_json(self._file.read_bytes())
        except ValidationError as exc:
            raise SettingsError(f"{self._file} is not valid model settings: {exc}") from exc

    def get(self, name: str) -> ModelSettings:
        return self.all().get(name, ModelSettings())

    def update(self, name: str, changes: dict[str, Any]) -> ModelSettings:
        """Apply `changes` (validated; None restores the global setting) to `name`'s settings."""
        with self._lock:
            everything = self.all()
            merged = everything.get(name, ModelSettings()).model_dump() | changes
            try:
                settings = ModelSettings.model_validate(merged)
            except ValidationError as exc:
                problems = "; ".join(f"{p['loc'][0]}: {p['msg']}" for p in exc.errors())
                raise InvalidModelSettingsError(f"'{name}': {problems}") from exc
            if settings == ModelSettings():
                everything.pop(name, None)
            else:
                everything[name] = settings
            self._file.parent.mkdir(parents=True, exist_ok=True)
            dumped = {key: value.model_dump(exclude_none=True) for key, value in everything.items()}
            write_atomically(self._file, json.dumps(dumped, indent=2))
        return settings
