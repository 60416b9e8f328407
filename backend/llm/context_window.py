"""Fitting a prompt into the context window: room kept for the reply, the oldest turns dropped
(the system prompt kept) where the caller allows it, and OpenAI's words when it cannot fit.

The overflow message keeps OpenAI's wording ("This model's maximum context length is N tokens.
However, your messages resulted in M tokens"): litellm and other clients recognise an overflow
by that text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from backend.errors import InvalidRequestError

Message = TypeVar("Message", bound=Mapping[str, object])  # {"role": ..., "content": ..., ...}

# The request header with which an API client chooses what an overflow does: "drop" (the
# default) leaves out the oldest turns and reports it; "error" refuses with a 400 instead.
OVERFLOW_HEADER = "X-Hearth-Context-Overflow"

# Room kept for the reply when the client sets no max_tokens (at most half the context).
DEFAULT_REPLY_RESERVE = 512


class PromptTooLongError(InvalidRequestError, ValueError):
    """The prompt does not fit in the context window, even with the oldest turns dropped."""

    code = "context_length_exceeded"


class EmptyPromptError(InvalidRequestError, ValueError):
    """The prompt has no tokens at all, so there is nothing to continue from."""

    code = "empty_prompt"


@dataclass(frozen=True)
class ContextBudget:
    """The model's context window, in tokens, and the part of it kept for the reply."""

    context_size: int
    reply_reserve: int

    @classmethod
    def for_reply(cls, context_size: int, max_tokens: int | None) -> ContextBudget:
        """Room for `max_tokens` of reply, or DEFAULT_REPLY_RESERVE, at most half the context."""
        return cls(context_size, min(max_tokens or DEFAULT_REPLY_RESERVE, context_size // 2))

    @property
    def for_prompt(self) -> int:
        return self.context_size - self.reply_reserve


def overflow_error(
    needed: int, budget: ContextBudget, param: str = "messages", note: str = ""
) -> PromptTooLongError:
    """The 400 for a prompt of `needed` tokens that does not fit, in OpenAI's words; `param`
    is the field it came from ("messages" or "prompt")."""
    message = (
        f"This model's maximum context length is {budget.context_size} tokens. However, your "
        f"{param} resulted in {needed} tokens{note}"
    )
    if budget.reply_reserve:
        message += (
            f", and {budget.reply_reserve} more are kept for the reply (max_tokens, or "
            f"{DEFAULT_REPLY_RESERVE} when it is not set, at most half the context)"
        )
    return PromptTooLongError(
        f"{message}. Please reduce the length of the {param} or max_tokens, or raise the "
        "context size (the context_size setting).",
        param=param,
    )


def fit_messages(
    messages: list[Message],
    render: Callable[[list[Message]], str],
    count_tokens: Callable[[str], int],
    budget: ContextBudget,
    drop_old_turns: bool = True,
) -> tuple[str, int]:
    """The rendered prompt within the budget and how many old messages were dropped for it.
    Without `drop_old_turns`, a conversation that does not fit whole is refused instead."""
    system = [m for m in messages[:1] if m["role"] == "system"]
    rest = messages[len(system) :]
    dropped = 0
    whole: int | None = None  # what the conversation as sent needs
    while True:
        prompt = render(system + rest)
        needed = count_tokens(prompt)
        whole = needed if whole is None else whole
        if needed <= budget.for_prompt:
            return prompt, dropped
        if not drop_old_turns:
            raise overflow_error(needed, budget)
        if len(rest) <= 1:
            note = f" ({needed} even with every older turn dropped)" if dropped else ""
            raise overflow_error(whole, budget, note=note)
        rest = rest[1:]
        dropped += 1
