"""OpenAI-compatible routes: /v1/models, /v1/chat/completions and /v1/completions."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from backend.images.attachments import image_inputs
from backend.llm.types import ChatRequest, CompletionRequest, Finished, Token
from backend.models.registry import NO_PROJECTOR_NOTE, ModelEntry
from backend.server.errors import describe
from backend.server.schemas import ChatCompletionBody, CompletionBody, SamplingFields
from backend.server.services import Services
from backend.server.streaming import Generation, Launch

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
        "timings": finished.timings.to_dict(),
        "dropped_messages": finished.dropped_messages,
        "context_size": finished.context_size,
    }


def sse(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n"


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
                yield sse(chunk(event.text, None))
                continue
            final = chunk(None, openai_finish_reason(event))
            final["hearth"] = hearth_metadata(event) | extra
            yield sse(final)
            if include_usage:
                yield sse({**chunk(None, None), "choices": [], "usage": usage(event)})
    except Exception as exc:  # the headers are sent: report in-band
        _, body = describe(exc)
        yield sse(body)
    yield sse("[DONE]")


async def run(
    body: SamplingFields,
    launch: Launch,
    request: Request,
    chunk: ChunkBuilder,
    extra: dict[str, Any] | None = None,
) -> Any:
    """Start a generation; stream it, or collect it and return (text, Finished)."""
    generation = Generation(services(request).generations).start(launch)
    if not body.stream:
        return await generation.collect()
    first = await generation.next_event()  # errors before any output get a real HTTP status
    return StreamingResponse(
        event_stream(generation, first, chunk, body.include_usage, extra or {}),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


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


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionBody, request: Request) -> Any:
    svc = services(request)
    model = svc.resolve_model(body.model)
    messages = [m.as_prompt_message() for m in body.messages]
    references = body.image_references()
    attachments = await asyncio.to_thread(svc.images.attach, references) if references else []
    sees = bool(attachments) and svc.provider.can_see_images(model)
    # A model with a vision projector gets the pixels; any other, CLIP's labels as text.
    images, extra = image_inputs(model, attachments, sees, messages)
    chat = ChatRequest(model, messages, body.sampling(), images)
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(text: str | None, finish_reason: str | None) -> dict[str, Any]:
        delta = {"role": "assistant", "content": text} if text is not None else {}
        return {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    result = await run(
        body,
        lambda sink, cancel: svc.provider.start_chat(chat, sink, cancel),
        request,
        chunk,
        extra,
    )
    if isinstance(result, StreamingResponse):
        return result
    text, finished = result
    return {
        "id": ident,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": openai_finish_reason(finished),
            }
        ],
        "usage": usage(finished),
        "hearth": hearth_metadata(finished) | extra,
    }


@router.post("/v1/completions")
async def completions(body: CompletionBody, request: Request) -> Any:
    svc = services(request)
    model = svc.resolve_model(body.model)
    completion = CompletionRequest(model, body.prompt_text(), body.sampling())
    ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(text: str | None, finish_reason: str | None) -> dict[str, Any]:
        return {
            "id": ident,
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish_reason}
            ],
        }

    result = await run(
        body,
        lambda sink, cancel: svc.provider.start_completion(completion, sink, cancel),
        request,
        chunk,
    )
    if isinstance(result, StreamingResponse):
        return result
    text, finished = result
    response = chunk(text, openai_finish_reason(finished))
    return response | {"usage": usage(finished), "hearth": hearth_metadata(finished)}
