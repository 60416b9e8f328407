"""How the GUI and CLI find a running backend: HEARTH_HOME/backend.json and the bearer token."""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from backend.paths import HomeLayout
from backend.settings import write_atomically

# A backend busy indexing still answers /health at once; this only bounds a hung port.
PROBE_TIMEOUT_S = 10.0
HEALTH_MAX_BYTES = 4096
log = logging.getLogger(__name__)


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
    """The recorded backend, if its process is alive and answers on its port as this home's
    Hearth. A pid reused since a crash, or a port another program took, is stale: None."""
    info = _recorded_backend(layout)
    if info is None or not _alive(info.pid):
        return None
    if not _answers_as_hearth(info, load_or_create_token(layout)):
        log.info(
            "%s names pid %d on port %d, which is not this home's Hearth backend: ignored",
            layout.backend_info,
            info.pid,
            info.port,
        )
        return None
    return info


def remove_backend_info(layout: HomeLayout, pid: int) -> None:
    """Remove backend.json only if it still names this process (which, stopping, no longer
    answers on its port)."""
    current = _recorded_backend(layout)
    if current is not None and current.pid == pid:
        layout.backend_info.unlink(missing_ok=True)


def _recorded_backend(layout: HomeLayout) -> BackendInfo | None:
    try:
        info = BackendInfo(**json.loads(layout.backend_info.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if not (isinstance(info.port, int) and isinstance(info.pid, int)):
        return None
    return info


def _answers_as_hearth(info: BackendInfo, token: str) -> bool:
    """GET /health with the token. The backend listens before it writes backend.json, so one
    that is starting answers once its loop runs; a refused connection means nobody serves."""
    import http.client  # the standard library's: httpx is slow to import

    connection = http.client.HTTPConnection("127.0.0.1", info.port, timeout=PROBE_TIMEOUT_S)
    try:
        connection.request("GET", "/health", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        body = json.loads(response.read(HEALTH_MAX_BYTES))
    except (OSError, ValueError, http.client.HTTPException):
        return False  # refused, reset, timed out, or not JSON
    finally:
        connection.close()
    return response.status == 200 and isinstance(body, dict) and body.get("status") == "ok"


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
