"""Bridging a generation on a provider's worker thread to asyncio, with cancellation."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future

from backend.chat.queue import DEFAULT_QUEUE_DEPTH, GenerationQueue, Ticket
from backend.llm.types import Event, EventSink, Finished, ProviderEvent, Stage, Token, TokenLogprob
from backend.wire import GenerationReport

Launch = Callable[[EventSink, threading.Event], "Future[None]"]


class GenerationTracker:
    """Which generations are running and how recent ones ended, for status and shutdown, and
    the bounded line they wait in (`queue`)."""

    def __init__(self, slots: int = 1, queue_depth: int = DEFAULT_QUEUE_DEPTH) -> None:
        self.active: set[threading.Event] = set()
        self.recent: deque[GenerationReport] = deque(maxlen=20)
        self.queue = GenerationQueue(slots, queue_depth, self._durations)
        self._replying: dict[str, threading.Event] = {}  # conversation id -> its reply's cancel
        self._replying_lock = threading.Lock()  # ends arrive on worker threads

    def record(self, finished: Finished) -> None:
        self.recent.append(finished.report())

    def _durations(self) -> list[float]:
        return [(r.prompt_ms + r.generation_ms) / 1000 for r in list(self.recent)]

    def cancel_all(self) -> None:
        for cancel in list(self.active):
            cancel.set()

    def replying(self, conversation_id: str, cancel: threading.Event) -> None:
        with self._replying_lock:
            self._replying[conversation_id] = cancel

    def replied(self, conversation_id: str, cancel: threading.Event) -> None:
        with self._replying_lock:  # only its own entry: a newer reply may have taken the slot
            if self._replying.get(conversation_id) is cancel:
                del self._replying[conversation_id]

    def cancel_reply(self, conversation_id: str) -> None:
        with self._replying_lock:
            cancel = self._replying.get(conversation_id)
        if cancel is not None:
            cancel.set()


class Generation:
    """One running generation; its events arrive on the event loop in order. `ahead` is how
    many generations it waited behind when it was submitted."""

    def __init__(self, tracker: GenerationTracker, conversation_id: str | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[ProviderEvent | BaseException] = asyncio.Queue()
        self._tracker = tracker
        self._conversation_id = conversation_id
        self.cancel = threading.Event()
        self.logprobs: list[TokenLogprob] = []  # of the tokens handed out so far, when asked
        self.ahead = 0
        self._ticket: Ticket | None = None

    def start(self, launch: Launch, ticket: Ticket | None = None) -> Generation:
        """Submit the work; with no `ticket` (the place a request reserved before preparing its
        turn), take one now, which may raise QueueFullError."""
        self._ticket = ticket or self._tracker.queue.admit()
        self.ahead = self._ticket.join()
        self._tracker.active.add(self.cancel)
        if self._conversation_id is not None:
            self._tracker.replying(self._conversation_id, self.cancel)
        try:
            future = launch(self._put, self.cancel)
        except BaseException:  # refused before any work (a field the provider cannot pass on)
            self._ended()
            raise
        future.add_done_callback(self._on_done)
        return self

    def _put(self, item: ProviderEvent | BaseException) -> None:
        if isinstance(item, Finished):  # recorded even when nobody listens any more
            self._tracker.record(item)
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _ended(self) -> None:
        self._tracker.active.discard(self.cancel)
        if self._conversation_id is not None:
            self._tracker.replied(self._conversation_id, self.cancel)
        if self._ticket is not None:
            self._ticket.release()

    def _on_done(self, future: Future[None]) -> None:
        self._ended()
        error = future.exception() if not future.cancelled() else RuntimeError("cancelled")
        if error is not None:
            self._put(error)

    async def next_event(self) -> Event:
        event = await self._next(stages=False)
        assert not isinstance(event, Stage)
        return event

    async def _next(self, stages: bool) -> ProviderEvent:
        """The next event; progress `Stage`s only when asked (the OpenAI API has no place for
        them), else they are passed over."""
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                self.cancel.set()
                raise item
            if stages or not isinstance(item, Stage):
                return item

    async def events(self, first: Event | None = None) -> AsyncIterator[Event]:
        """Yield events until Finished; leaving early (a client disconnect) cancels the work."""
        async for event in self.events_and_stages(first, stages=False):
            assert not isinstance(event, Stage)
            yield event

    async def events_and_stages(
        self, first: Event | None = None, stages: bool = True
    ) -> AsyncIterator[ProviderEvent]:
        """`events`, with the generation's progress stages among them."""
        try:
            event = first if first is not None else await self._next(stages)
            while True:
                if isinstance(event, Token):
                    self.logprobs.extend(event.logprobs)
                yield event
                if isinstance(event, Finished):
                    return
                event = await self._next(stages)
        finally:
            self.cancel.set()

    async def collect(self) -> tuple[str, Finished]:
        parts: list[str] = []
        async for event in self.events():
            if isinstance(event, Token):
                parts.append(event.text)
            else:
                return "".join(parts), event
        raise RuntimeError("generation ended without finishing")  # pragma: no cover
