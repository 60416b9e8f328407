"""OpenAI-compatible routes: /v1/models, /v1/chat/completions and /v1/completions."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from backend import sse
from backend.chat import runner
from backend.chat.generation import Generation
from backend.chat.models import resolve_model
from backend.chat.turn import Turn, prepare_api_turn
from backend.llm.types import CompletionRequest, Finished, Token
from backend.models.registry import NO_PROJECTOR_NOTE, ModelEntry
from backend.server.errors import describe
from backend.server.schemas import ChatCompletionBody, CompletionBody, SamplingFields
from backend.server.services import Services

router = APIRouter()

ChunkBuilder = Callable[[str | None, str | None], dict[str, Any]]


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


def openai_finish_reason(finished: Finished) -> str:
    # A cancelled generation only reaches a client during shutdown; OpenAI has no such value.
    return "stop" if finished.finish_reason == "cancelled" else finished.finish_reason


def usage(finished: Finished) -> dict[str, int]:
    t = finished.timings
    total = t.prompt_tokens + t.completion_tokens
    return {
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.completion_tokens,
        "total_tokens": total,
    }


def hearth_metadata(finished: Finished) -> dict[str, Any]:
    """Hearth's extra response field: speeds, and turns dropped to fit the context."""
    return {
        "finish_reason": finished.finish_reason,
        "timings": finished.timings.to_wire().model_dump(),
        "dropped_messages": finished.dropped_messages,
        "context_size": finished.context_size,
    }


async def event_stream(
    generation: Generation,
    first: Token | Finished,
    chunk: ChunkBuilder,
    include_usage: bool,
    extra: dict[str, Any],
) -> AsyncIterator[str]:
    """SSE lines for one generation; `chunk(text, finish_reason)` shapes each OpenAI chunk."""
    try:
        async for event in generation.events(first):
            if isinstance(event, Token):
                yield sse.encode(chunk(event.text, None))
                continue
            final = chunk(None, openai_finish_reason(event))
            final["hearth"] = hearth_metadata(event) | extra
            yield sse.encode(final)
            if include_usage:
                yield sse.encode({**chunk(None, None), "choices": [], "usage": usage(event)})
    except Exception as exc:  # the headers are sent: report in-band
        _, body = describe(exc)
        yield sse.encode(body)
    yield sse.encode(sse.DONE)


async def respond(
    body: SamplingFields, generation: Generation, chunk: ChunkBuilder, extra: dict[str, Any]
) -> tuple[str, Finished] | StreamingResponse:
    """Stream a started generation, or collect it and return (text, Finished)."""
    if not body.stream:
        return await generation.collect()
    first = await generation.next_event()  # errors before any output get a real HTTP status
    return StreamingResponse(
        event_stream(generation, first, chunk, body.include_usage, extra),
        media_type=sse.MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def image_metadata(turn: Turn) -> dict[str, Any]:
    """Hearth's report on a turn's images: stored, and seen or only labelled."""
    if not turn.attachments:
        return {}
    seen = bool(turn.request.images)
    return {
        "attachments": [a.model_dump(mode="json") for a in turn.attachments],
        "vision": seen,
    } | ({} if seen else {"vision_note": NO_PROJECTOR_NOTE})


def chat_chunker(ident: str, created: int, model: str) -> ChunkBuilder:
    def chunk(text: str | None, finish_reason: str | None) -> dict[str, Any]:
        delta = {"role": "assistant", "content": text} if text is not None else {}
        return {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    return chunk


def chat_completion(
    ident: str, created: int, model: str, text: str, finished: Finished, extra: dict[str, Any]
) -> dict[str, Any]:
    """A whole chat completion in OpenAI's shape."""
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "message": message, "finish_reason": openai_finish_reason(finished)}
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [choice],
        "usage": usage(finished),
        "hearth": hearth_metadata(finished) | extra,
    }


def completion_chunker(ident: str, created: int, model: str) -> ChunkBuilder:
    def chunk(text: str | None, finish_reason: str | None) -> dict[str, Any]:
        choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish_reason}
        return {
            "id": ident,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [choice],
        }

    return chunk


def model_object(entry: ModelEntry) -> dict[str, Any]:
    """One model in OpenAI's shape, plus whether it sees images."""
    vision_note = {} if entry.vision else {"vision_note": NO_PROJECTOR_NOTE}
    return {
        "id": entry.name,
        "object": "model",
        "created": 0,
        "owned_by": entry.source,
        "vision": entry.vision,
    } | vision_note


@router.get("/v1/models")
def list_models(request: Request) -> dict[str, Any]:
    entries = services(request).registry.list()
    return {"object": "list", "data": [model_object(e) for e in entries]}


@router.get("/v1/models/{model_id}")
def retrieve_model(model_id: str, request: Request) -> dict[str, Any]:
    return model_object(services(request).registry.get(model_id))


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionBody, request: Request
) -> dict[str, Any] | StreamingResponse:
    svc = services(request)
    messages = [m.as_prompt_message() for m in body.messages]
    turn = await asyncio.to_thread(
        prepare_api_turn, svc, body.model, messages, body.image_references(), body.sampling()
    )
    ident, created, extra = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), image_metadata(turn)
    chunk = chat_chunker(ident, created, turn.model.name)
    result = await respond(body, runner.start(svc, turn), chunk, extra)
    if isinstance(result, StreamingResponse):
        return result
    return chat_completion(ident, created, turn.model.name, *result, extra)


@router.post("/v1/completions", response_model=None)
async def completions(body: CompletionBody, request: Request) -> dict[str, Any] | StreamingResponse:
    svc = services(request)
    model = await asyncio.to_thread(resolve_model, svc.provider, svc.settings, body.model)
    completion = CompletionRequest(model.name, body.prompt_text(), body.sampling())
    generation = Generation(svc.generations).start(
        lambda sink, cancel: svc.provider.start_completion(completion, sink, cancel)
    )
    ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
    chunk = completion_chunker(ident, created, model.name)
    result = await respond(body, generation, chunk, {})
    if isinstance(result, StreamingResponse):
        return result
    text, finished = result
    response = chunk(text, openai_finish_reason(finished))
    return response | {"usage": usage(finished), "hearth": hearth_metadata(finished)}
