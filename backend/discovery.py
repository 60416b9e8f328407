"""How the GUI and CLI find a running backend: HEARTH_HOME/backend.json and the bearer token."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from backend.paths import HomeLayout
from backend.settings import write_atomically


@dataclass(frozen=True)
class BackendInfo:
    port: int
    pid: int
    version: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def write_backend_info(layout: HomeLayout, info: BackendInfo) -> None:
    write_atomically(layout.backend_info, json.dumps(asdict(info)))


def read_backend_info(layout: HomeLayout) -> BackendInfo | None:
    """The recorded backend, if its process is still alive."""
    try:
        info = BackendInfo(**json.loads(layout.backend_info.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return info if _alive(info.pid) else None


def remove_backend_info(layout: HomeLayout, pid: int) -> None:
    """Remove backend.json only if it still names this process."""
    current = read_backend_info(layout)
    if current is not None and current.pid == pid:
        layout.backend_info.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_or_create_token(layout: HomeLayout) -> str:
    """The bearer token every request needs, created once with mode 0600."""
    path: Path = layout.token
    layout.ensure()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        return path.read_text(encoding="utf-8").strip()
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token)
    return token
