"""Fitting a conversation into the context window: drop the oldest turns, keep the system prompt."""

from __future__ import annotations

from collections.abc import Callable

from backend.errors import InvalidRequestError

Message = dict[str, str]


class PromptTooLongError(InvalidRequestError, ValueError):
    """Even the newest message alone does not fit in the context window."""

    code = "context_length_exceeded"


def fit_messages(
    messages: list[Message],
    render: Callable[[list[Message]], str],
    count_tokens: Callable[[str], int],
    budget: int,
) -> tuple[str, int]:
    """Return the rendered prompt within `budget` tokens and how many old messages were dropped."""
    system = [m for m in messages[:1] if m["role"] == "system"]
    rest = messages[len(system) :]
    dropped = 0
    while True:
        prompt = render(system + rest)
        needed = count_tokens(prompt)
        if needed <= budget:
            return prompt, dropped
        if len(rest) <= 1:
            raise PromptTooLongError(
                f"the prompt needs {needed} tokens but only {budget} fit in the context window "
                "(after room for the reply); shorten the message or raise the context size"
            )
        rest = rest[1:]
        dropped += 1
