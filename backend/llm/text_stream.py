"""Turning generated token bytes into text as it streams: whole characters, stop strings cut."""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class TextStream:
    """Emits only complete UTF-8 characters, and holds back text that may begin a stop string."""

    def __init__(self, stops: Sequence[str] = ()) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = [s for s in stops if s]
        self._pending = ""
        self.stopped = False

    def push(self, data: bytes) -> str:
        """Add one token's bytes; return the text now safe to show."""
        self._pending += self._decoder.decode(data)
        hits = [i for i in (self._pending.find(s) for s in self._stops) if i >= 0]
        if hits:
            self.stopped = True
            text, self._pending = self._pending[: min(hits)], ""
            return text
        keep = self._held_back()
        text = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(text) :]
        return text

    def flush(self) -> str:
        """The rest, once generation ends without a stop string."""
        text = "" if self.stopped else self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return text

    def _held_back(self) -> int:
        """Length of the longest end of the pending text that starts some stop string."""
        for size in range(min(len(self._pending), max(map(len, self._stops), default=0)), 0, -1):
            tail = self._pending[-size:]
            if any(stop.startswith(tail) for stop in self._stops):
                return size
        return 0
