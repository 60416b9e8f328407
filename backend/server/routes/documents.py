"""Document collections under /hearth/documents: add, sync, list, remove and search."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from backend.documents.ingest import IngestEvent
from backend.documents.retrieval import Hit, SearchMode
from backend.documents.state import CollectionInfo
from backend.server.errors import describe
from backend.server.routes.openai import services

router = APIRouter(prefix="/hearth/documents", tags=["documents"])


class AddDocuments(BaseModel):
    name: str = Field(description="Collection name; created if new.")
    paths: list[str] = Field(min_length=1, description="Files or folders on this machine.")
    max_file_bytes: int | None = Field(None, ge=1, description="Skip larger files.")
    stream: bool = Field(False, description="Stream progress events (server-sent events).")


class SyncCollection(BaseModel):
    max_file_bytes: int | None = Field(None, ge=1, description="Skip larger files.")
    stream: bool = False


class SearchDocuments(BaseModel):
    query: str = Field(min_length=1)
    collections: list[str] = Field(min_length=1)
    k: int = Field(5, ge=1, le=100)
    mode: SearchMode = "hybrid"


def _sse(events: Iterator[IngestEvent]) -> Iterator[str]:
    try:
        for event in events:
            yield f"data: {event.model_dump_json()}\n\n"
    except Exception as exc:  # the status line is sent: report in-band, in OpenAI's error shape
        _, body = describe(exc)
        yield f"data: {json.dumps(body)}\n\n"


def _run(events: Iterator[IngestEvent], stream: bool) -> Any:
    """Progress as it happens, or the run's events once it has finished."""
    if stream:
        return StreamingResponse(
            _sse(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    return {"events": list(events)}


@router.get("/collections")
def list_collections(request: Request) -> list[CollectionInfo]:
    return services(request).documents.collections()


@router.post("/collections")
def add_documents(body: AddDocuments, request: Request) -> Any:
    return _run(
        services(request).documents.add(body.name, body.paths, body.max_file_bytes), body.stream
    )


@router.get("/collections/{name}")
def get_collection(name: str, request: Request) -> dict[str, Any]:
    library = services(request).documents
    return {"collection": library.collection(name), "files": library.files(name)}


@router.post("/collections/{name}/sync")
def sync_collection(name: str, body: SyncCollection, request: Request) -> Any:
    return _run(services(request).documents.sync(name, body.max_file_bytes), body.stream)


@router.delete("/collections/{name}", status_code=204)
def remove_collection(name: str, request: Request) -> None:
    services(request).documents.remove(name)


@router.post("/search")
def search_documents(body: SearchDocuments, request: Request) -> list[Hit]:
    library = services(request).documents
    return library.search(body.query, body.collections, body.k, body.mode)
