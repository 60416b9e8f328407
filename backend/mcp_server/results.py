"""What the MCP tools return: a typed record (the tool's structured content and output schema,
built from the API's own wire types) and the same as text an agent's model reads."""

from __future__ import annotations

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from backend.documents.retrieval import Hit
from backend.wire import CollectionInfo, ImageHit, MessageStatus, Source, place_label

NO_COLLECTIONS = (
    "No document collections yet. Add one with: hearth docs add FOLDER --collection NAME"
)
NO_IMAGES = "No images indexed yet. Index a folder with: hearth images index FOLDER"


class DocumentHits(BaseModel):
    """The passages that best match a query, best first."""

    query: str
    collections: list[str] = Field(description="The collections searched.")
    hits: list[Hit]


class Collections(BaseModel):
    """Every document collection, with its folders and file and chunk counts."""

    collections: list[CollectionInfo]


class ImageHits(BaseModel):
    """Indexed images, the closest match first."""

    hits: list[ImageHit]


class GroundedAnswer(BaseModel):
    """An answer written from a collection's passages, citing them as [n]."""

    answer: str
    model: str | None = Field(description="The model that wrote it; none when nothing was found.")
    status: MessageStatus
    sources: list[Source] = Field(description="The passages the answer cites, by their n.")


def structured(record: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=record.model_dump(mode="json"),
    )


def hits_text(found: DocumentHits) -> str:
    if not found.collections:
        return NO_COLLECTIONS
    if not found.hits:
        return f"Nothing in {', '.join(found.collections)} matches {found.query!r}."
    return "\n\n".join(
        f"[{n}] {place_label(hit.source, hit.page, hit.start_line, hit.end_line)} "
        f"(collection {hit.collection}, score {hit.score:.3f})\n{hit.text}"
        for n, hit in enumerate(found.hits, start=1)
    )


def collections_text(listing: Collections) -> str:
    if not listing.collections:
        return NO_COLLECTIONS
    return "\n".join(
        f"{c.name}: {c.files} files, {c.chunks} chunks, {c.failed} failed; "
        f"reads {', '.join(c.roots)}"
        for c in listing.collections
    )


def images_text(found: ImageHits) -> str:
    if not found.hits:
        return NO_IMAGES
    return "\n".join(f"{hit.score:.3f}  {hit.path}" for hit in found.hits)


def answer_text(reply: GroundedAnswer) -> str:
    if not reply.sources:
        return reply.answer
    cited = "\n".join(f"[{s.n}] {s.label()}" for s in reply.sources)
    return f"{reply.answer}\n\nSources:\n{cited}"
