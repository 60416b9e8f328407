"""Argument types that refuse, at parse time, values no command could use."""

from __future__ import annotations

import argparse
import math

MAX_PORT = 65535


def port_number(text: str) -> int:
    port = int(text)
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0-{MAX_PORT}; 0 picks a free one)")
    return port


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def label_list(text: str) -> list[str]:
    """Comma-separated labels; given but empty is an error, not a fall-back to the defaults."""
    labels = [label.strip() for label in text.split(",") if label.strip()]
    if not labels:
        raise argparse.ArgumentTypeError('no labels in it; give some, e.g. "cat,dog,car"')
    return labels
