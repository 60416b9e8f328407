"""Keeping a grammar-constrained reply valid UTF-8, token by token.

llama.cpp's grammar decodes a token's bytes leniently: lead bytes that never occur in UTF-8
(C0, C1, F5–FF) and overlong or surrogate second bytes pass as characters. A model trained on
text rarely writes them, but a small or unlucky one does, and then the "JSON" it returns does
not even decode. This logits processor bans such tokens before the grammar sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

NEVER_IN_UTF8 = frozenset({0xC0, 0xC1, *range(0xF5, 0x100)})
# The lead bytes whose next byte is narrower than 80–BF, and the range it must fall in.
SECOND_BYTE = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}


class Utf8Guard:
    """A logits processor banning tokens that would make the reply's bytes invalid UTF-8."""

    def __init__(self, token_bytes: Callable[[int], bytes], n_vocab: int) -> None:
        self._token_bytes = token_bytes
        pieces = [token_bytes(token) for token in range(n_vocab)]
        self._never = np.array([bool(NEVER_IN_UTF8 & set(p)) for p in pieces])
        self._first = np.array([p[0] if p else -1 for p in pieces])

    def __call__(self, input_ids: Any, scores: np.ndarray) -> np.ndarray:
        scores[self._never] = -np.inf
        lead = self._pending_lead(input_ids)
        if lead in SECOND_BYTE:
            low, high = SECOND_BYTE[lead]
            scores[(self._first >= 0x80) & ((self._first < low) | (self._first > high))] = -np.inf
        return scores

    def _pending_lead(self, input_ids: Any) -> int | None:
        """The lead byte, when the text so far ends with exactly that one byte of a sequence."""
        if len(input_ids) == 0:
            return None
        tail = self._token_bytes(int(input_ids[-1]))
        return tail[-1] if tail and tail[-1] in SECOND_BYTE else None
