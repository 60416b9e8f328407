"""Conversations under /hearth/conversations: the GUI's chat path, stored as each message ends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from backend.documents.grounding import NOTHING_FOUND, find_sources, grounded_question
from backend.images.attachments import image_inputs
from backend.llm.types import ChatRequest, Finished, SamplingParams, Token
from backend.server.errors import describe
from backend.server.routes.openai import services
from backend.server.schemas import ConversationUpdate, NewConversation, NewMessage
from backend.server.services import Services
from backend.server.streaming import Generation
from backend.store import Conversation, ConversationNotFoundError, Message, MessageStatus

router = APIRouter(prefix="/hearth/conversations", tags=["conversations"])

SAMPLING_KEYS = ("max_tokens", "temperature", "top_p", "seed")


def sampling_for(conversation: Conversation) -> SamplingParams:
    """The chat's own settings; an answer from documents is greedy unless the chat says
    otherwise, as hearth-smol was measured (bench/smol_eval.py): sampled, it drifts from its
    sources now and then."""
    grounded = {"temperature": 0.0} if conversation.collections else {}
    chosen = {k: conversation.settings[k] for k in SAMPLING_KEYS if k in conversation.settings}
    return SamplingParams(**(grounded | chosen))


def prompt_messages(svc: Services, conversation: Conversation) -> list[dict[str, str]]:
    history = [
        {"role": m.role, "content": m.content}
        for m in svc.store.messages(conversation.id)
        if m.status == "complete"
    ]
    if conversation.system_prompt:
        history.insert(0, {"role": "system", "content": conversation.system_prompt})
    return history


def store_reply(
    svc: Services,
    conversation_id: str,
    text: str,
    finished: Finished | None,
    failed: bool = False,
    sources: list[dict[str, Any]] | None = None,
) -> Message:
    """Commit the assistant's reply; one cut short is kept and marked interrupted."""
    complete = finished is not None and finished.finish_reason != "cancelled"
    status: MessageStatus = "error" if failed else "complete" if complete else "interrupted"
    return svc.store.add_message(
        conversation_id,
        "assistant",
        text,
        model=finished.model if finished else None,
        status=status,
        timings=finished.to_dict() if finished else None,
        sources=sources,
    )


@router.get("")
def list_conversations(request: Request, q: str | None = None) -> list[Conversation]:
    return services(request).store.list(q)


@router.post("", status_code=201)
def create_conversation(body: NewConversation, request: Request) -> Conversation:
    svc = services(request)
    if body.model is not None:
        svc.registry.get(body.model)
    return svc.store.create(body.title, body.system_prompt, body.model)


@router.get("/{conversation_id}")
def get_conversation(conversation_id: str, request: Request) -> dict[str, Any]:
    store = services(request).store
    return {
        "conversation": store.get(conversation_id),
        "messages": store.messages(conversation_id),
    }


@router.patch("/{conversation_id}")
def update_conversation(
    conversation_id: str, body: ConversationUpdate, request: Request
) -> Conversation:
    svc = services(request)
    store = svc.store
    if body.model is not None:
        svc.registry.get(body.model)
    for name in body.collections:
        svc.documents.state.get(name)  # unknown collections are refused, not stored
    if body.title is not None:
        store.rename(conversation_id, body.title)
    changes = body.model_dump(exclude_unset=True, exclude={"title"})
    return store.update_settings(conversation_id, **changes)


@router.delete("/{conversation_id}", status_code=204)
def delete_conversation(conversation_id: str, request: Request) -> None:
    svc = services(request)
    svc.generations.cancel_reply(conversation_id)  # its reply has nowhere to go any more
    svc.store.delete(conversation_id)


@router.post("/{conversation_id}/messages")
async def post_message(conversation_id: str, body: NewMessage, request: Request) -> Any:
    """Append a user message, generate the reply and store both."""
    svc = services(request)
    conversation = svc.store.get(conversation_id)
    model = svc.resolve_model(conversation.model, with_documents=bool(conversation.collections))
    # Images are read and labelled, and sources found, first: a request that fails there
    # leaves the conversation as it was.
    attachments = await asyncio.to_thread(svc.images.attach, body.images) if body.images else []
    sources: list[dict[str, Any]] = []
    if conversation.collections:
        sources = await asyncio.to_thread(
            find_sources, svc.documents, conversation.collections, body.content
        )
    if body.replace_from is not None:
        svc.store.delete_messages_from(conversation_id, body.replace_from)
    user_message = svc.store.add_message(
        conversation_id, "user", body.content, attachments=[a.to_dict() for a in attachments]
    )
    messages = prompt_messages(svc, conversation)
    if conversation.collections:
        if not sources:
            # Nothing relevant: an honest fixed reply, never an answer the model made up.
            reply = svc.store.add_message(conversation_id, "assistant", NOTHING_FOUND)
            return fixed_reply(user_message, reply, body.stream)
        messages[-1] = {"role": "user", "content": grounded_question(body.content, sources)}
    # A model with a vision projector gets the pixels; any other, CLIP's labels as text.
    sees = bool(attachments) and svc.provider.can_see_images(model)
    images, _ = image_inputs(model, attachments, sees, messages)
    chat = ChatRequest(model, messages, sampling_for(conversation), images)
    generation = Generation(svc.generations, conversation_id).start(
        lambda sink, cancel: svc.provider.start_chat(chat, sink, cancel)
    )
    if not body.stream:
        try:
            text, finished = await generation.collect()
        except Exception:
            # Stored as the streamed path stores it, so the question is not left unanswered.
            store_reply(svc, conversation_id, "", None, failed=True, sources=sources)
            raise
        return {
            "user": user_message,
            "assistant": store_reply(svc, conversation_id, text, finished, sources=sources),
        }
    return StreamingResponse(
        reply_stream(svc, conversation_id, user_message, generation, sources),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


def fixed_reply(user_message: Message, reply: Message, stream: bool) -> Any:
    """A reply that needed no generation, in the same shapes as a generated one."""
    if not stream:
        return {"user": user_message, "assistant": reply}
    events = [
        _event({"type": "user", "message": user_message.model_dump()}),
        _event({"type": "token", "text": reply.content}),
        _event({"type": "done", "message": reply.model_dump()}),
    ]
    return StreamingResponse(
        iter(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def reply_stream(
    svc: Services,
    conversation_id: str,
    user_message: Message,
    generation: Generation,
    sources: list[dict[str, Any]],
) -> AsyncIterator[str]:
    """Events: user, token..., then done (the stored reply) or error."""
    yield _event({"type": "user", "message": user_message.model_dump()})
    parts: list[str] = []
    finished: Finished | None = None
    failed = False
    try:
        async for event in generation.events():
            if isinstance(event, Token):
                parts.append(event.text)
                yield _event({"type": "token", "text": event.text})
            else:
                finished = event
    except Exception as exc:
        failed = True
        yield _error_event(exc)
    finally:
        # Runs on disconnect too, so a reply cut short is stored as interrupted.
        try:
            reply: Message | Exception = store_reply(
                svc, conversation_id, "".join(parts), finished, failed, sources
            )
        except ConversationNotFoundError as exc:  # deleted while it replied
            reply = exc
    if isinstance(reply, Exception):
        yield _error_event(reply)
    else:
        yield _event({"type": "done", "message": reply.model_dump()})


def _error_event(exc: Exception) -> str:
    error = describe(exc)[1]["error"]
    # "type" names the event; the OpenAI error type travels as "error_type".
    return _event({**error, "error_type": error["type"], "type": "error"})
