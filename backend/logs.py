"""Logging to HEARTH_HOME/logs with rotation."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler

from backend.paths import HomeLayout

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(
    process: str, layout: HomeLayout | None = None, level: int = logging.INFO
) -> None:
    """Send this process's logs to HEARTH_HOME/logs/<process>.log, 5 files of 2 MB."""
    logs = (layout or HomeLayout.current()).ensure().logs
    handler = RotatingFileHandler(logs / f"{process}.log", maxBytes=2_000_000, backupCount=5)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.setLevel(level)
    root.addHandler(handler)
