"""Printing results for people and, with --json, for programs."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def fail(message: str, code: int = 1) -> int:
    """Report a user-facing error without a traceback and return the exit code."""
    print(f"hearth: {message}", file=sys.stderr)
    return code
