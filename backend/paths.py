"""Where Hearth keeps user state: HEARTH_HOME and the files inside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "hearth"


def hearth_home() -> Path:
    """HEARTH_HOME if set, else the platform's user data folder."""
    override = os.environ.get("HEARTH_HOME")
    if override:
        return Path(override).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class HomeLayout:
    """The fixed layout of files under one HEARTH_HOME (see DESIGN.md)."""

    root: Path

    @classmethod
    def current(cls) -> HomeLayout:
        return cls(hearth_home())

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    @property
    def database(self) -> Path:
        return self.root / "hearth.db"

    @property
    def chroma(self) -> Path:
        return self.root / "chroma"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def token(self) -> Path:
        return self.root / "token"

    @property
    def backend_info(self) -> Path:
        return self.root / "backend.json"

    def ensure(self) -> HomeLayout:
        for folder in (self.root, self.models, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def repo_models_dir() -> Path:
    """The shipped `models/` folder next to the installed packages."""
    return Path(__file__).resolve().parent.parent / "models"
