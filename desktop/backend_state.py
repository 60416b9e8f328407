"""The engine's states as the GUI names them, apart from the connection code so that the first
frame can say "starting" before that code (and pydantic, through backend.discovery) is loaded."""

from __future__ import annotations

from enum import Enum


class BackendState(Enum):
    STARTING = "starting"
    READY = "ready"
    BUSY = "busy"
    ERROR = "error"
