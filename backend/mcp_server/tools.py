"""The MCP server and its tools: each translates its arguments into one HearthClient call and the
answer into a result; the backend's refusals become tool errors that name the problem."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Annotated

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from backend import __version__
from backend.client import BackendError, HearthClient
from backend.errors import HearthError
from backend.mcp_server.link import BackendLink
from backend.mcp_server.results import (
    Collections,
    DocumentHits,
    GroundedAnswer,
    ImageHits,
    answer_text,
    collections_text,
    hits_text,
    images_text,
    structured,
)
from backend.wire import ChatEvent, DoneEvent, ErrorEvent, Message

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Hearth holds the user's own documents and images, indexed on this machine. Search them "
    "before answering questions about the user's files, and cite the paths and lines you used. "
    "Nothing leaves the machine."
)
# Every tool only reads: ask_documents' conversation is removed once answered.
READS_LOCAL_DATA = ToolAnnotations(read_only_hint=True, open_world_hint=False)

Query = Annotated[str, Field(min_length=1, description="What to look for, in words.")]
CollectionName = Annotated[
    str, Field(min_length=1, description="A collection's name, as list_collections gives it.")
]
DocumentCount = Annotated[int, Field(ge=1, le=100, description="How many passages.")]
ImageCount = Annotated[int, Field(ge=1, le=500, description="How many images.")]


@contextmanager
def _as_tool_errors() -> Iterator[None]:
    """What the backend refused, or why it could not be reached, reaches the agent as the
    tool's error; anything else is a bug the SDK logs while the server keeps serving."""
    try:
        yield
    except (BackendError, HearthError, httpx.TransportError) as error:
        raise ToolError(str(error)) from error


class HearthTools:
    """The tools, bound to the backend they call. Each method's docstring is the description
    the agent's model reads."""

    def __init__(self, link: BackendLink) -> None:
        self._link = link

    def search_documents(
        self,
        query: Query,
        collection: Annotated[
            str | None, Field(description="Search only this collection (default: all of them).")
        ] = None,
        k: DocumentCount = 5,
    ) -> Annotated[CallToolResult, DocumentHits]:
        """Find the passages of the user's indexed documents that best match a query (meaning
        and keywords), each with its file path, page, lines and text."""
        with _as_tool_errors():
            documents = self._link.client().documents
            names = [collection] if collection else [c.name for c in documents.collections()]
            hits = documents.search(query, names, k) if names else []
        found = DocumentHits(query=query, collections=names, hits=hits)
        return structured(found, hits_text(found))

    def list_collections(self) -> Annotated[CallToolResult, Collections]:
        """The user's document collections: their names, the folders they read, and how many
        files and passages they hold."""
        with _as_tool_errors():
            listing = Collections(collections=self._link.client().documents.collections())
        return structured(listing, collections_text(listing))

    def search_images(
        self, query: Query, k: ImageCount = 12
    ) -> Annotated[CallToolResult, ImageHits]:
        """Find the user's indexed images that match a description, e.g. "a cat on a sofa",
        with their paths and a similarity score."""
        with _as_tool_errors():
            found = ImageHits(hits=self._link.client().images.search(query, k))
        return structured(found, images_text(found))

    def similar_images(
        self,
        path: Annotated[str, Field(min_length=1, description="An image file's full path.")],
        k: ImageCount = 12,
    ) -> Annotated[CallToolResult, ImageHits]:
        """Find the user's indexed images that look like the image at `path`."""
        with _as_tool_errors():
            found = ImageHits(hits=self._link.client().images.similar(Path(path).expanduser(), k))
        return structured(found, images_text(found))

    def ask_documents(
        self,
        question: Annotated[str, Field(min_length=1, description="The question, in words.")],
        collection: CollectionName,
    ) -> Annotated[CallToolResult, GroundedAnswer]:
        """Ask Hearth's local model a question about one document collection: it answers from
        the best passages only, citing them as [n], and says so when nothing relevant is found.
        Slower than search_documents; prefer that to read the passages yourself."""
        with _as_tool_errors():
            reply = _grounded_reply(self._link.client(), question, collection)
        answer = GroundedAnswer(
            answer=reply.content, model=reply.model, status=reply.status, sources=reply.sources
        )
        return structured(answer, answer_text(answer))


def _grounded_reply(client: HearthClient, question: str, collection: str) -> Message:
    """The path of `hearth chat --collection`: a conversation that answers from the collection.

    The conversation is deleted once answered, even when the answer failed: it is a means of
    one lookup, and the calling agent's own transcript already shows the question, the answer
    and its sources. Kept, every question an agent asks would pile up in the user's chat list,
    which is for the user's own chats. The log (mcp.log) records that a question was asked."""
    client.documents.collection(collection)  # an unknown name fails before creating anything
    log.info("ask_documents: a question about %r", collection)
    conversation = client.conversations.create(title=f"Asked over MCP: {question[:60]}")
    try:
        client.conversations.update(conversation.id, collections=[collection])
        return _reply(client.conversations.send(conversation.id, question))
    finally:
        client.conversations.delete(conversation.id)


def _reply(events: Generator[ChatEvent, None, None]) -> Message:
    with closing(events):  # closes the connection whichever way this ends
        for event in events:
            if isinstance(event, ErrorEvent):
                raise BackendError(event.message)
            if isinstance(event, DoneEvent):
                return event.message
    raise BackendError("the backend ended the reply without sending it")


def build_server(link: BackendLink) -> MCPServer[object]:
    server: MCPServer[object] = MCPServer(
        "hearth", title="Hearth", version=__version__, instructions=INSTRUCTIONS
    )
    tools = HearthTools(link)
    for tool in (
        tools.search_documents,
        tools.list_collections,
        tools.search_images,
        tools.similar_images,
        tools.ask_documents,
    ):
        description = " ".join((inspect.getdoc(tool) or "").split())  # one paragraph, unindented
        server.add_tool(tool, description=description, annotations=READS_LOCAL_DATA)
    return server
