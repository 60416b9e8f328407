"""`hearth chat "question"`: one turn of a stored conversation, through the backend's API."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from backend.cli.output import print_json


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
    from urllib.parse import quote

    from backend.client import backend_session
    from backend.wire import Source

    with backend_session() as client:
        for name in args.collection or []:  # before a conversation is created for nothing
            client.request("GET", f"/hearth/documents/collections/{quote(name, safe='')}")
        conversation_id = (
            args.conversation
            or client.request(
                "POST",
                "/hearth/conversations",
                json={"title": args.question[:60], "model": args.model},
            )["id"]
        )
        if args.collection:
            client.request(
                "PATCH",
                f"/hearth/conversations/{conversation_id}",
                json={"collections": args.collection},
            )
        reply = _ask(client, conversation_id, args.question, echo=not args.json)
    if args.json:
        print_json(
            {
                "conversation_id": conversation_id,
                "answer": reply["content"],
                "model": reply["model"],
                "status": reply["status"],
                "sources": reply["sources"],
                "timings": reply["timings"],
            }
        )
    elif reply["sources"]:
        print("\n".join(f"[{s['n']}] {Source.model_validate(s).label()}" for s in reply["sources"]))
    return 0 if reply["status"] == "complete" else 1


def _ask(client: Any, conversation_id: str, question: str, *, echo: bool) -> dict[str, Any]:
    from backend.client import BackendError

    path = f"/hearth/conversations/{conversation_id}/messages"
    reply: dict[str, Any] = {}
    for event in client.stream_events(path, {"content": question, "stream": True}):
        if event["type"] == "token" and echo:
            sys.stdout.write(event["text"])
            sys.stdout.flush()
        elif event["type"] == "error":
            raise BackendError(event["message"])
        elif event["type"] == "done":
            reply = event["message"]
    if echo:
        sys.stdout.write("\n")
    return reply
