"""Token log-probabilities in OpenAI's two shapes: chat's `content` list and completions' lists."""

from __future__ import annotations

from collections.abc import Sequence

from backend.llm.types import TokenLogprob
from backend.wire import ChoiceLogprobs, TextLogprobs, TokenLogprobInfo, TopLogprob


def _text(token: bytes) -> str:
    return token.decode("utf-8", "replace")  # half a character shows as U+FFFD; `bytes` is exact


def chat_logprobs(entries: Sequence[TokenLogprob]) -> ChoiceLogprobs:
    return ChoiceLogprobs(
        content=[
            TokenLogprobInfo(
                token=_text(entry.token),
                logprob=entry.logprob,
                bytes=list(entry.token),
                top_logprobs=[
                    TopLogprob(token=_text(token), logprob=logprob, bytes=list(token))
                    for token, logprob in entry.top
                ],
            )
            for entry in entries
        ]
    )


def text_logprobs(entries: Sequence[TokenLogprob], start: int = 0) -> TextLogprobs:
    """`start` is the text offset of the first entry: the length of text sent before it."""
    offsets, at = [], start
    for entry in entries:
        offsets.append(at)
        at += len(_text(entry.token))
    return TextLogprobs(
        tokens=[_text(entry.token) for entry in entries],
        token_logprobs=[entry.logprob for entry in entries],
        top_logprobs=[{_text(token): logprob for token, logprob in entry.top} for entry in entries],
        text_offset=offsets,
    )
