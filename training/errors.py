"""The base of training's own errors: failures the user can fix, shown as one line by the CLI."""

from __future__ import annotations


class TrainingError(Exception):
    """A bad recipe, tokenizer, corpus or model file; the message says what to change."""
