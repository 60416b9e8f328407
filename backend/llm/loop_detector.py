"""Noticing a reply that is stuck in a loop, so it ends instead of running for minutes.

Small models, sampled greedily or near it, can fall into a cycle ("code's hash code's hash
...") that only the token limit ends. A reply whose last tokens are one short run of tokens
repeated over and over is such a cycle: nothing new will come after it.
"""

from __future__ import annotations

from collections import deque

MAX_PERIOD = 50  # the longest repeated run of tokens looked for
MIN_REPEATS = 4  # a run seen this many times in a row is a loop ...
MIN_SPAN = 60  # ... once the repetition covers at least this many tokens


class LoopDetector:
    """Fed each sampled token; `push` says when the reply has become a cycle: its last
    tokens repeat with some period p ≤ `max_period`, over at least `min_repeats` periods and
    `min_span` tokens. A period-1 "cycle" thus needs 60 equal tokens, and a period-50 one 200.

    Legitimate repetition stays below that: a list's repeated prefix ("- Item 1", "- Item 2")
    breaks the period at each new number, and prose never repeats itself token for token.
    """

    def __init__(
        self, max_period: int = MAX_PERIOD, min_repeats: int = MIN_REPEATS, min_span: int = MIN_SPAN
    ) -> None:
        self.max_period, self.min_repeats, self.min_span = max_period, min_repeats, min_span
        self._recent: deque[int] = deque(maxlen=max_period)
        # _matching[p - 1]: how many of the latest tokens in a row equal the one p before them
        self._matching = [0] * max_period

    def push(self, token: int) -> bool:
        """Take the next token; True when the reply now ends in a cycle."""
        looping = False
        for period in range(1, self.max_period + 1):
            if period <= len(self._recent) and self._recent[-period] == token:
                self._matching[period - 1] += 1
                # `matching` equal pairs mean the last matching + period tokens are periodic.
                span = self._matching[period - 1] + period
                looping = looping or span >= max(self.min_span, self.min_repeats * period)
            else:
                self._matching[period - 1] = 0
        self._recent.append(token)
        return looping
