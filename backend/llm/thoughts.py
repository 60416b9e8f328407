"""Reasoning models write their thoughts in <think>…</think> before the answer: they are shown
apart and left out of later prompts (the model needs its answers back, not its drafts)."""

from __future__ import annotations

import re

OPEN, CLOSE = "<think>", "</think>"
# A closed block, or one still streaming (open to the end of the text).
THOUGHTS = re.compile(r"<think>.*?(?:</think>|\Z)\s*", re.DOTALL)
# Asked of a model that does not reason on its own (the chat's "think step by step").
STEP_BY_STEP = (
    "Before answering, think step by step inside <think></think> tags; then give the answer"
    " after the closing tag."
)


def without_thoughts(text: str) -> str:
    """The answer alone. Some templates open the block in the prompt, so the reply holds only
    the closing tag: then everything before it is thought."""
    if CLOSE in text and OPEN not in text.split(CLOSE, 1)[0]:
        text = text.split(CLOSE, 1)[1]
    return THOUGHTS.sub("", text).strip()
