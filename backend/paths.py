"""Where Hearth keeps user state: HEARTH_HOME and the files inside it."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "hearth"

# Files 0600 and folders 0700: nothing Hearth writes is readable by other users of the machine.
PRIVATE_UMASK = 0o077
PRIVATE_MODE_MASK = 0o700


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
    def bm25(self) -> Path:
        """Saved BM25 indexes of the document collections, one folder per revision."""
        return self.root / "bm25"

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
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for folder in (self.models, self.logs):
            folder.mkdir(mode=0o700, exist_ok=True)
        return self

    def make_private(self) -> None:
        """Take group and other access off the home and its direct children: installs from
        before the private umask have a 0755 home and 0644 files. Closing the home is what
        protects everything deeper, so the walk stays one level and start-up stays fast."""
        for path in (self.root, *self.root.iterdir()):
            if path.is_symlink():  # its target may not be ours to change
                continue
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & ~PRIVATE_MODE_MASK:
                path.chmod(mode & PRIVATE_MODE_MASK)


def start_private(layout: HomeLayout | None = None) -> None:
    """At a process's start: create files private from now on, and tighten an existing home."""
    os.umask(PRIVATE_UMASK)
    layout = layout or HomeLayout.current()
    if layout.root.is_dir():
        layout.make_private()


def repo_models_dir() -> Path:
    """The shipped `models/` folder next to the installed packages."""
    return Path(__file__).resolve().parent.parent / "models"
