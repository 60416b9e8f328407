"""Conversations under /hearth/conversations: the GUI's chat path, adapted from `backend.chat`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from backend import sse
from backend.chat import runner
from backend.chat.turn import Question, plan_turn, prepare_turn
from backend.server.event_stream import event_response
from backend.server.routes.openai import services
from backend.server.schemas import ConversationUpdate, NewConversation, NewMessage, ShownVersion
from backend.store.chat_export import (
    ChatExport,
    ImportResult,
    export_json,
    export_markdown,
    read_import,
)
from backend.wire import ChatEvent, Conversation, ConversationDetail, Exchange, Message

router = APIRouter(prefix="/hearth/conversations", tags=["conversations"])


async def encoded(events: AsyncGenerator[ChatEvent]) -> AsyncIterator[str]:
    """The events as SSE; closing the response closes the turn's stream at once, so a reply cut
    short by a disconnect is stored as interrupted without waiting for garbage collection."""
    async with aclosing(events):
        async for event in events:
            yield sse.encode(event)


@router.get("")
def list_conversations(request: Request, q: str | None = None) -> list[Conversation]:
    return services(request).store.list(q)


@router.post("", status_code=201)
def create_conversation(body: NewConversation, request: Request) -> Conversation:
    svc = services(request)
    if body.model is not None:
        svc.registry.get(body.model)
    return svc.store.create(body.title, body.system_prompt, body.model)


@router.post("/import", status_code=201)
def import_conversations(data: Annotated[Any, Body()], request: Request) -> ImportResult:
    """Chats from a Hearth JSON export or ChatGPT's conversations.json, stored as new ones."""
    chats, notes = read_import(data)
    store = services(request).store
    return ImportResult(conversations=[store.add_imported(chat) for chat in chats], notes=notes)


@router.get("/{conversation_id}/export", response_model=None)
def export_conversation(
    conversation_id: str, request: Request, format: Literal["markdown", "json"] = "markdown"
) -> ChatExport | PlainTextResponse:
    detail = get_conversation(conversation_id, request)
    if format == "json":
        return export_json(detail)
    return PlainTextResponse(export_markdown(detail), media_type="text/markdown; charset=utf-8")


@router.put("/{conversation_id}/messages/{message_id}/version")
def show_version(
    conversation_id: str, message_id: int, body: ShownVersion, request: Request
) -> Message:
    """Show another version of a regenerated reply; later turns continue from it."""
    return services(request).store.show_version(conversation_id, message_id, body.version)


@router.get("/{conversation_id}")
def get_conversation(conversation_id: str, request: Request) -> ConversationDetail:
    store = services(request).store
    return ConversationDetail(
        conversation=store.get(conversation_id), messages=store.messages(conversation_id)
    )


@router.patch("/{conversation_id}")
def update_conversation(
    conversation_id: str, body: ConversationUpdate, request: Request
) -> Conversation:
    svc = services(request)
    if body.model is not None:
        svc.registry.get(body.model)
    for name in body.collections:
        svc.documents.state.get(name)  # unknown collections are refused, not stored
    if body.title is not None:
        svc.store.rename(conversation_id, body.title)
    changes = {name: getattr(body, name) for name in body.model_fields_set - {"title"}}
    return svc.store.update_settings(conversation_id, **changes)


@router.delete("/{conversation_id}", status_code=204)
def delete_conversation(conversation_id: str, request: Request) -> None:
    runner.delete_conversation(services(request), conversation_id)


@router.post("/{conversation_id}/messages", response_model=None)
async def post_message(
    conversation_id: str, body: NewMessage, request: Request
) -> Exchange | StreamingResponse:
    """Append a user message, generate the reply and store both."""
    svc = services(request)
    question = Question(body.content, tuple(body.images), body.replace_from)
    with runner.admit(svc) as ticket:  # a full line refuses it (429) before the question is kept
        if not body.stream:
            turn = await asyncio.to_thread(prepare_turn, svc, conversation_id, question)
            return await runner.reply(svc, turn, ticket)
        # The documents are searched inside the stream, which says so ("searching").
        planned = await asyncio.to_thread(plan_turn, svc, conversation_id, question)
    return event_response(encoded(runner.stream_planned(svc, planned, ticket)))
