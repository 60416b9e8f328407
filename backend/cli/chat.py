"""`hearth chat "question"`: one turn of a stored conversation, through the backend's API."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from backend.cli.output import print_json

if TYPE_CHECKING:
    from backend.client import HearthClient
    from backend.wire import Message


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("chat", help="ask a question; the reply streams to the terminal")
    parser.add_argument("question")
    parser.add_argument("--conversation", help="continue this conversation (id)")
    parser.add_argument(
        "--model",
        help="model for a new conversation (default: the default model from settings, or the "
        "documents model with --collection)",
    )
    parser.add_argument(
        "--collection",
        action="append",
        help="answer from this document collection, citing it (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from backend.client import backend_session

    with backend_session() as client:
        for name in args.collection or []:  # before a conversation is created for nothing
            client.documents.collection(name)
        conversation_id = (
            args.conversation
            or client.conversations.create(title=args.question[:60], model=args.model).id
        )
        if args.collection:
            client.conversations.update(conversation_id, collections=args.collection)
        reply = _ask(client, conversation_id, args.question, echo=not args.json)
    if args.json:
        print_json(
            {
                "conversation_id": conversation_id,
                "answer": reply.content,
                "model": reply.model,
                "status": reply.status,
                "sources": [s.model_dump(mode="json") for s in reply.sources],
                "timings": reply.timings and reply.timings.model_dump(mode="json"),
            }
        )
    elif reply.sources:
        print("\n".join(f"[{s.n}] {s.label()}" for s in reply.sources))
    return 0 if reply.status == "complete" else 1


def _ask(client: HearthClient, conversation_id: str, question: str, *, echo: bool) -> Message:
    from backend.client import BackendError
    from backend.wire import DoneEvent, ErrorEvent, TokenEvent

    reply: Message | None = None
    for event in client.conversations.send(conversation_id, question):
        if isinstance(event, TokenEvent) and echo:
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, ErrorEvent):
            raise BackendError(event.message)
        elif isinstance(event, DoneEvent):
            reply = event.message
    if echo:
        sys.stdout.write("\n")
    if reply is None:
        raise BackendError("the backend ended the reply without sending it")
    return reply
