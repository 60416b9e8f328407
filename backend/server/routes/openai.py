"""OpenAI-compatible routes: /v1/models, /v1/chat/completions and /v1/completions."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from backend import sse
from backend.chat import runner
from backend.chat.generation import Generation
from backend.chat.models import resolve_model
from backend.chat.queue import Ticket
from backend.chat.turn import Turn, prepare_api_turn
from backend.embeddings.minilm import MODEL_NAME as EMBEDDER_NAME
from backend.embeddings.names import answers_to
from backend.errors import describe
from backend.llm.context_window import OVERFLOW_HEADER
from backend.llm.types import CompletionRequest, Event, Finished, Timings, Token
from backend.models.registry import NO_PROJECTOR_NOTE, ModelEntry
from backend.server.event_stream import event_response
from backend.server.logprobs import chat_logprobs, text_logprobs
from backend.server.schemas import ChatCompletionBody, CompletionBody, SamplingFields
from backend.server.services import Services
from backend.server.tool_call_replies import ToolCallDeltas, assistant_message, read_reply
from backend.server.tool_call_replies import finish_reason as tool_finish_reason
from backend.wire import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatDelta,
    ChoiceLogprobs,
    HearthReport,
    ModelList,
    ModelObject,
    OpenAIChunk,
    TextChoice,
    TextCompletion,
    Usage,
)

router = APIRouter()

ChunkBuilder = Callable[[Token | None, str | None], OpenAIChunk]  # (token, finish_reason)
# The chunks before the last: a chat reply's function calls, read once it has ended.
ClosingChunks = Callable[[], Sequence[OpenAIChunk]]
Reporter = Callable[[Finished], HearthReport]


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


def openai_finish_reason(finished: Finished) -> str:
    # A cancelled generation only reaches a client during shutdown; OpenAI has no such value.
    return "stop" if finished.finish_reason == "cancelled" else finished.finish_reason


def usage(finished: Finished) -> Usage:
    t = finished.timings
    total = t.prompt_tokens + t.completion_tokens
    return Usage(
        prompt_tokens=t.prompt_tokens, completion_tokens=t.completion_tokens, total_tokens=total
    )


def hearth_report(finished: Finished, turn: Turn | None = None) -> HearthReport:
    """Hearth's extra response field: speeds, turns dropped to fit the context, and whether
    the model saw a chat turn's images or only their labels."""
    attachments = list(turn.attachments) if turn else []
    earlier = list(turn.earlier_attachments) if turn else []
    seen = bool(turn and turn.request.images)
    return HearthReport(
        finish_reason=finished.finish_reason,
        timings=finished.timings.to_wire(),
        dropped_messages=finished.dropped_messages,
        context_size=finished.context_size,
        attachments=attachments or None,
        vision=seen if attachments else None,
        vision_note=NO_PROJECTOR_NOTE if attachments and not seen else None,
        earlier_attachments=earlier or None,
    )


def queue_note(generation: Generation) -> str:
    """A waiting request's stream opens with this SSE comment, which clients skip."""
    return sse.comment(f"queued {generation.ahead} ahead")


async def respond(
    body: SamplingFields,
    generation: Generation,
    chunk: ChunkBuilder,
    report: Reporter,
    closing: ClosingChunks = tuple,
) -> tuple[str, Finished] | StreamingResponse:
    """Stream a started generation, or collect it and return (text, Finished). A stream waits
    for its first event, so an error before any output gets a real HTTP status; one that waits
    in line starts at once, saying how many are ahead, and reports errors in-band."""
    if not body.stream:
        return await generation.collect()
    first = None if generation.ahead else await generation.next_event()
    lines = openai_chunks(
        generation, first, lambda _: chunk, body.include_usage, report=report, closing=closing
    )
    return event_response(lines)


def chat_chunker(
    ident: str, created: int, model: str, logprobs: bool, calls: ToolCallDeltas | None = None
) -> ChunkBuilder:
    """Chunks of a chat stream; with `calls`, text that may be a function call is held back
    until the end, when `tool_call_chunks` sends the calls before the last chunk."""

    def chunk(token: Token | None, finish_reason: str | None) -> ChatCompletionChunk:
        text = token.text if token else None
        if text is not None and calls:
            text = calls.push(text)
        delta = ChatDelta(role="assistant", content=text) if token else ChatDelta()
        scores = chat_logprobs(token.logprobs) if token and logprobs else None
        if finish_reason and calls and calls.reply:
            finish_reason = tool_finish_reason(calls.reply, finish_reason)
        choice = ChatChunkChoice(delta=delta, logprobs=scores, finish_reason=finish_reason)
        return ChatCompletionChunk(id=ident, created=created, model=model, choices=[choice])

    return chunk


def tool_call_chunks(ident: str, created: int, model: str, calls: ToolCallDeltas) -> ClosingChunks:
    """The chunks that end a reply offered functions: its held-back content, then its calls."""

    def closing() -> list[ChatCompletionChunk]:
        return [
            ChatCompletionChunk(
                id=ident,
                created=created,
                model=model,
                choices=[ChatChunkChoice(delta=delta, finish_reason=None)],
            )
            for delta in calls.finish()
        ]

    return closing


def text_chunker(
    ident: str, created: int, model: str, logprobs: bool, index: int = 0
) -> ChunkBuilder:
    """Chunks of the choice at `index` (one per prompt)."""
    sent = 0  # characters streamed so far: where the next chunk's tokens start

    def chunk(token: Token | None, finish_reason: str | None) -> TextCompletion:
        nonlocal sent
        scores = text_logprobs(token.logprobs, sent) if token and logprobs else None
        sent += len(token.text) if token else 0
        text = token.text if token else ""
        choice = TextChoice(index=index, text=text, logprobs=scores, finish_reason=finish_reason)
        return TextCompletion(id=ident, created=created, model=model, choices=[choice])

    return chunk


def chat_completion(
    ident: str,
    created: int,
    turn: Turn,
    text: str,
    finished: Finished,
    logprobs: ChoiceLogprobs | None,
) -> ChatCompletion:
    """A whole chat completion, once its generation has ended."""
    reply = read_reply(text, turn.request.tool_use)
    reason = tool_finish_reason(reply, openai_finish_reason(finished))
    message = assistant_message(reply)
    choice = ChatChoice(message=message, logprobs=logprobs, finish_reason=reason)
    return ChatCompletion(
        id=ident,
        created=created,
        model=turn.model.name,
        choices=[choice],
        usage=usage(finished),
        hearth=hearth_report(finished, turn),
    )


def model_object(entry: ModelEntry) -> ModelObject:
    note = None if entry.vision else NO_PROJECTOR_NOTE
    return ModelObject(id=entry.name, owned_by=entry.source, vision=entry.vision, vision_note=note)


def embedder_object() -> ModelObject:
    """The embedder, served by /v1/embeddings only; listed last, so that a client that takes
    the first model for chat still gets a chat model."""
    return ModelObject(id=EMBEDDER_NAME, owned_by="shipped", vision=False)


@router.get("/v1/models")
def list_models(request: Request) -> ModelList:
    chat_models = [model_object(e) for e in services(request).registry.list()]
    return ModelList(data=[*chat_models, embedder_object()])


@router.get("/v1/models/{model_id}")
def retrieve_model(model_id: str, request: Request) -> ModelObject:
    # OpenAI's embedding model names are the embedder's aliases, so they retrieve it too.
    if answers_to(model_id):
        return embedder_object()
    return model_object(services(request).registry.get(model_id))


ContextOverflow = Annotated[
    Literal["drop", "error"],
    Header(
        alias=OVERFLOW_HEADER,
        description="What a conversation too long for the context window does: `drop` (the "
        "default) leaves out the oldest turns, keeping the system prompt, and reports how many "
        "in `hearth.dropped_messages`; `error` refuses it with a 400 `context_length_exceeded`.",
    ),
]


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionBody, request: Request, context_overflow: ContextOverflow = "drop"
) -> ChatCompletion | StreamingResponse:
    svc = services(request)
    messages = [m.as_prompt_message() for m in body.messages]
    with runner.admit(svc) as ticket:  # a full line refuses it (429) before any work
        turn = await asyncio.to_thread(
            prepare_api_turn,
            svc,
            body.model,
            messages,
            body.image_references(),
            body.sampling(),
            earlier_images=body.earlier_image_references(),
            drop_old_turns=context_overflow == "drop",
            tool_use=body.tool_use(),
        )
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    tool_use = turn.request.tool_use
    calls = ToolCallDeltas(tool_use) if tool_use and body.stream else None
    chunk = chat_chunker(ident, created, turn.model.name, body.logprobs, calls)
    closing = tool_call_chunks(ident, created, turn.model.name, calls) if calls else tuple
    report = partial(hearth_report, turn=turn)
    generation = runner.start(svc, turn, ticket)
    result = await respond(body, generation, chunk, report, closing)
    if isinstance(result, StreamingResponse):
        return result
    logprobs = chat_logprobs(generation.logprobs) if body.logprobs else None
    return chat_completion(ident, created, turn, *result, logprobs)


def summed(ended: Sequence[Finished]) -> Finished:
    """The last choice's end, with the counts and times of all of them: for usage and report."""
    timings = Timings(
        prompt_tokens=sum(f.timings.prompt_tokens for f in ended),
        completion_tokens=sum(f.timings.completion_tokens for f in ended),
        prompt_ms=sum(f.timings.prompt_ms for f in ended),
        generation_ms=sum(f.timings.generation_ms for f in ended),
    )
    return replace(ended[-1], timings=timings)


async def openai_chunks(
    first: Generation,
    first_event: Event | None,
    chunker: Callable[[int], ChunkBuilder],
    include_usage: bool,
    *,
    later: Sequence[Callable[[], Generation]] = (),
    report: Reporter = hearth_report,
    closing: ClosingChunks = tuple,
) -> AsyncIterator[str]:
    """SSE lines for one choice per generation (a chat's one, or one per completion prompt,
    started one after another): `chunker(index)(token, finish_reason)` shapes each OpenAI chunk,
    each choice ends with its own finish_reason and report, and the usage chunk (when asked)
    sums them all."""
    generation, pending = first, [first_event]
    ended: list[Finished] = []
    try:
        if first.ahead:
            yield queue_note(first)
        for index in range(len(later) + 1):
            if index:
                generation, pending = later[index - 1](), []
            chunk = chunker(index)
            async for event in generation.events(*pending):
                if isinstance(event, Token):
                    yield sse.encode(chunk(event, None))
                    continue
                for lead_in in closing():
                    yield sse.encode(lead_in)
                final = chunk(None, openai_finish_reason(event))
                final.hearth = report(event)
                yield sse.encode(final)
                ended.append(event)
        if include_usage:
            counted = {"choices": [], "usage": usage(summed(ended))}
            yield sse.encode(chunker(0)(None, None).model_copy(update=counted))
    except Exception as exc:  # the headers are sent: report in-band
        _, body = describe(exc)
        yield sse.encode(body)
    finally:
        generation.cancel.set()  # a client that left stops the generation at once
    yield sse.encode(sse.DONE)


async def text_choices(
    generations: Sequence[Callable[[], Generation]], logprobs: bool
) -> tuple[list[TextChoice], Finished]:
    """Each prompt's whole choice, one after another, and their summed end."""
    choices, ended = [], []
    for index, start in enumerate(generations):
        generation = start()
        text, finished = await generation.collect()
        scores = text_logprobs(generation.logprobs) if logprobs else None
        reason = openai_finish_reason(finished)
        choices.append(TextChoice(index=index, text=text, logprobs=scores, finish_reason=reason))
        ended.append(finished)
    return choices, summed(ended)


@router.post("/v1/completions", response_model=None)
async def completions(body: CompletionBody, request: Request) -> TextCompletion | StreamingResponse:
    """One choice per prompt (a list of prompts gives several), each run after the other;
    the request's place in line is checked once, for the first."""
    svc = services(request)
    prompts = body.prompts()
    with runner.admit(svc) as ticket:  # a full line refuses it (429) before any work
        model = await asyncio.to_thread(resolve_model, svc.provider, svc.settings, body.model)
    sampling, logprobs = body.sampling(), body.logprobs is not None

    def start(prompt: str | tuple[int, ...], admitted: Ticket | None = None) -> Generation:
        completion = CompletionRequest(model.name, prompt, sampling)
        return Generation(svc.generations).start(
            partial(svc.provider.start_completion, completion),
            admitted or svc.generations.queue.admit(force=True),
        )

    starts = [partial(start, prompts[0], ticket), *(partial(start, p) for p in prompts[1:])]
    ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        first = starts[0]()
        # Errors before any output get a real status, unless it waits in line (see respond).
        first_event = None if first.ahead else await first.next_event()
        chunker = partial(text_chunker, ident, created, model.name, logprobs)
        lines = openai_chunks(first, first_event, chunker, body.include_usage, later=starts[1:])
        return event_response(lines)
    choices, ended = await text_choices(starts, logprobs)
    return TextCompletion(
        id=ident,
        created=created,
        model=model.name,
        choices=choices,
        usage=usage(ended),
        hearth=hearth_report(ended),
    )
