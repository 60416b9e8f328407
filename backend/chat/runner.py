"""Running a prepared turn on the provider: its events, and the reply stored as it goes.

The reply's row is written when generation starts (`generating`), its text saved as it streams
(about once a second, not per token), and its end recorded whatever happens: complete,
`interrupted` when the listener leaves or the reply is cancelled, `error` when generation fails.
A server killed mid-reply leaves the row `generating` with the text so far; start-up marks it
interrupted. A chat deleted while it replied has nowhere to store it, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncGenerator
from functools import partial

from backend.chat.generation import Generation
from backend.chat.queue import Ticket
from backend.chat.services import ChatServices
from backend.chat.turn import PlannedTurn, Turn, build_turn
from backend.errors import NotFoundError, error_event
from backend.llm.types import Finished, Stage, Token
from backend.wire import (
    ChatEvent,
    DoneEvent,
    Exchange,
    Message,
    MessageStatus,
    QueuedEvent,
    StageEvent,
    TokenEvent,
    UserEvent,
)


def admit(services: ChatServices) -> Ticket:
    """A place in the generations' line, taken before the turn is prepared, so a request the
    full line refuses (QueueFullError: a 429) changes nothing."""
    return services.generations.queue.admit()


def start(services: ChatServices, turn: Turn, ticket: Ticket | None = None) -> Generation:
    """Submit the turn to the provider; a stored turn's reply can be cancelled by chat id."""
    provider, request = services.provider, turn.request
    generation = Generation(services.generations, turn.conversation_id)
    return generation.start(partial(provider.start_chat, request), ticket)


def delete_conversation(services: ChatServices, conversation_id: str) -> None:
    """Delete a chat and stop its reply, which has nowhere to go any more."""
    services.generations.cancel_reply(conversation_id)
    services.store.delete(conversation_id)


def _asked(turn: Turn) -> Message:
    if turn.asked is None:
        raise ValueError("this turn is not stored in a conversation: it has no reply to store")
    return turn.asked


SAVE_EVERY_S = 1.0  # how often a streaming reply's text is saved: a crash loses at most this


def begin_reply(services: ChatServices, turn: Turn) -> Message:
    """The reply's row, written before the first token so the question never lacks one."""
    return services.store.add_message(
        _asked(turn).conversation_id,
        "assistant",
        "",
        model=turn.request.model,
        status="generating",
        sources=turn.sources,
        versions=turn.earlier_versions,
    )


def store_reply(
    services: ChatServices,
    reply: Message,
    text: str,
    finished: Finished | None,
    failed: bool = False,
) -> Message:
    """Commit the assistant's reply; one cut short is kept and marked interrupted."""
    complete = finished is not None and finished.finish_reason != "cancelled"
    status: MessageStatus = "error" if failed else "complete" if complete else "interrupted"
    return services.store.update_message(
        reply.conversation_id,
        reply.id,
        text,
        model=finished.model if finished else None,
        status=status,
        timings=finished.report() if finished else None,
    )


class PartialSaver:
    """Saves a streaming reply's text so far, at most once every SAVE_EVERY_S (the first token
    at once), so a killed server leaves what was said rather than nothing."""

    def __init__(self, services: ChatServices, reply: Message) -> None:
        self._services, self._reply = services, reply
        self._saved_at = -math.inf

    def tokens_arrived(self, parts: list[str]) -> None:
        now = time.monotonic()
        if now - self._saved_at < SAVE_EVERY_S:
            return
        self._saved_at = now
        reply = self._reply
        with contextlib.suppress(NotFoundError):  # a deleted chat: the final store says so
            self._services.store.update_message(
                reply.conversation_id, reply.id, "".join(parts), status="generating"
            )


def store_fixed_reply(services: ChatServices, turn: Turn) -> Message:
    """A reply that needed no generation: no model, no timings."""
    assert turn.fixed_reply is not None
    return services.store.add_message(
        _asked(turn).conversation_id,
        "assistant",
        turn.fixed_reply,
        versions=turn.earlier_versions,
    )


def _begin(services: ChatServices, turn: Turn, ticket: Ticket | None) -> tuple[Message, Ticket]:
    """The reply's row and the turn's place in line (taken now if the caller holds none)."""
    ticket = ticket or admit(services)
    try:
        return begin_reply(services, turn), ticket
    except BaseException:
        ticket.release()
        raise


async def reply(services: ChatServices, turn: Turn, ticket: Ticket | None = None) -> Exchange:
    """Run the turn to its end and return the question and the stored reply."""
    asked = _asked(turn)
    if turn.fixed_reply is not None:
        if ticket is not None:
            ticket.release()  # the model is not asked
        return Exchange(user=asked, assistant=store_fixed_reply(services, turn))
    row, ticket = _begin(services, turn, ticket)
    try:
        text, finished = await start(services, turn, ticket).collect()
    except Exception:
        # Stored as a streamed reply would be, so the question is not left unanswered.
        store_reply(services, row, "", None, failed=True)
        raise
    return Exchange(user=asked, assistant=store_reply(services, row, text, finished))


async def stream_reply(
    services: ChatServices, turn: Turn, ticket: Ticket | None = None
) -> AsyncGenerator[ChatEvent]:
    """Events: [queued,] user, stage..., token..., then done (the stored reply) or error.
    `queued` comes first when other generations are ahead of this one; the stages (loading the
    model, reading the prompt, writing) as the provider reports them. Leaving early (a client
    disconnect) cancels the generation and stores the reply as interrupted."""
    asked = _asked(turn)
    if turn.fixed_reply is not None:
        if ticket is not None:
            ticket.release()  # the model is not asked
        # Stored before anything is sent: a question is never left without its answer.
        fixed = store_fixed_reply(services, turn)
        yield UserEvent(message=asked)
        yield TokenEvent(text=fixed.content)
        yield DoneEvent(message=fixed)
        return
    row, ticket = _begin(services, turn, ticket)
    saver = PartialSaver(services, row)
    generation = start(services, turn, ticket)
    parts: list[str] = []
    finished: Finished | None = None
    failed = False
    try:
        if generation.ahead:
            yield QueuedEvent(ahead=generation.ahead)
        yield UserEvent(message=asked)
        async for event in generation.events_and_stages():
            if isinstance(event, Stage):
                yield stage_event(event)
            elif isinstance(event, Token):
                parts.append(event.text)
                saver.tokens_arrived(parts)
                yield TokenEvent(text=event.text)
            else:
                finished = event
    except Exception as exc:
        failed = True
        yield error_event(exc)
    finally:
        # Runs on disconnect too, so a reply cut short is stored as interrupted, and its
        # generation stops even when the listener left while holding a token.
        generation.cancel.set()
        try:
            stored: Message | Exception = store_reply(
                services, row, "".join(parts), finished, failed
            )
        except NotFoundError as exc:  # deleted while it replied
            stored = exc
    yield error_event(stored) if isinstance(stored, Exception) else DoneEvent(message=stored)


def stage_event(stage: Stage) -> StageEvent:
    return StageEvent(
        stage=stage.name, model=stage.model or None, done=stage.done, total=stage.total
    )


async def stream_planned(
    services: ChatServices, planned: PlannedTurn, ticket: Ticket
) -> AsyncGenerator[ChatEvent]:
    """`stream_reply` for a turn whose documents are searched inside the stream, so the app
    hears "searching" at once: stage, then the reply's events. A search that fails is an
    error event, and the conversation is as it was (the question is stored after it)."""
    try:
        if planned.searches_documents:
            yield StageEvent(stage="searching")
        turn = await asyncio.to_thread(build_turn, services, planned)
    except Exception as exc:
        ticket.release()
        yield error_event(exc)
        return
    except BaseException:  # the listener left while the documents were searched
        ticket.release()
        raise
    # Closed with this stream, so a listener who leaves cancels the reply at once.
    async with contextlib.aclosing(stream_reply(services, turn, ticket)) as events:
        async for event in events:
            yield event
