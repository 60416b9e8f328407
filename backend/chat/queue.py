"""Back-pressure for generations: a bounded line in front of the provider's workers.

The provider runs `slots` generations at once (llama.cpp: one) and the rest wait on its worker
in arrival order. At most `depth` may wait: one more is refused at once with a 429 and a
`Retry-After`, instead of waiting minutes with no sign. A request holds a `Ticket` from before
its turn is prepared (so a refused question is never stored) until its generation ends; the
ticket records how many generations were ahead of it when it joined the worker's line.
"""

from __future__ import annotations

import itertools
import math
import threading
import weakref
from collections.abc import Callable, Sequence

from backend.errors import HearthError

DEFAULT_QUEUE_DEPTH = 4
# Retry-After when no generation has ended yet to time; and its cap, as a client waits that long.
DEFAULT_RETRY_AFTER_S = 2
MAX_RETRY_AFTER_S = 60


class QueueFullError(HearthError):
    """Every slot is busy and the waiting line is full: try again after `retry_after` seconds."""

    status = 429
    type = "requests"  # OpenAI's type for a limit on the number of requests
    code = "queue_full"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Ticket:
    """One request's place: reserved, then in the worker's line (`ahead` before it), then done.
    `release` is idempotent; a ticket dropped without release is released when collected, so a
    stream that never started cannot keep its place forever."""

    def __init__(self, queue: GenerationQueue, number: int) -> None:
        self._queue = queue
        self.number = number
        self.ahead = 0  # generations ahead of it in the worker's line when it joined

    def join(self) -> int:
        """Enter the worker's line (the generation is submitted now); how many are ahead."""
        self.ahead = self._queue.joined(self.number)
        return self.ahead

    def release(self) -> None:
        self._queue.left(self.number)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        """A `with` block around preparing the request: on an error the place is given back,
        else it is kept for the generation."""
        if kind is not None:
            self.release()


class GenerationQueue:
    """Admission to the provider: `slots` running and up to `depth` waiting, counted together
    with the places reserved by requests still preparing their turn."""

    def __init__(
        self,
        slots: int = 1,
        depth: int = DEFAULT_QUEUE_DEPTH,
        durations: Callable[[], Sequence[float]] = tuple,
    ) -> None:
        self.slots, self.depth = slots, depth
        self._durations = durations  # seconds the last generations took, for Retry-After
        self._lock = threading.Lock()  # releases arrive on worker threads
        self._held: set[int] = set()  # reserved or in the line
        self._line: list[int] = []  # submitted and not ended, in submission order
        self._numbers = itertools.count()

    @property
    def capacity(self) -> int:
        return self.slots + self.depth

    def admit(self, force: bool = False) -> Ticket:
        """A place, or QueueFullError; `force` is for a request already admitted that goes on
        to its next generation (a list of prompts), which is never refused midway."""
        with self._lock:
            if not force and len(self._held) >= self.capacity:
                raise self._full()
            ticket = Ticket(self, next(self._numbers))
            self._held.add(ticket.number)
        weakref.finalize(ticket, self.left, ticket.number)
        return ticket

    def joined(self, number: int) -> int:
        with self._lock:
            ahead = max(0, len(self._line) - self.slots + 1)
            self._line.append(number)
            self._held.add(number)
        return ahead

    def left(self, number: int) -> None:
        with self._lock:
            self._held.discard(number)
            if number in self._line:
                self._line.remove(number)

    def waiting(self) -> int:
        """How many places are taken, running, waiting or reserved."""
        with self._lock:
            return len(self._held)

    def _full(self) -> QueueFullError:
        wait = self.retry_after()
        return QueueFullError(
            f"the model is busy: {self.slots} generating and {self.depth} waiting, the most "
            f"this server queues (setting generation_queue_depth); retry after {wait} s",
            wait,
        )

    def retry_after(self) -> int:
        """Seconds until a place is likely free: how long recent generations took, on average."""
        durations = list(self._durations())
        if not durations:
            return DEFAULT_RETRY_AFTER_S
        mean = sum(durations) / len(durations)
        return min(MAX_RETRY_AFTER_S, max(1, math.ceil(mean)))
