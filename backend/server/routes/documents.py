"""Document collections under /hearth/documents: add, sync, list, remove and search."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from backend import sse
from backend.documents.errors import DocumentPathError
from backend.documents.passage_context import document_text, passage_context
from backend.documents.retrieval import SearchMode
from backend.documents.search_results import SearchResults
from backend.errors import error_event
from backend.server.event_stream import event_response
from backend.server.routes.openai import services
from backend.wire import (
    CollectionDetail,
    CollectionInfo,
    DocumentText,
    IngestEvent,
    PassageContext,
)

router = APIRouter(prefix="/hearth/documents", tags=["documents"])


class AddDocuments(BaseModel):
    name: str = Field(description="Collection name; created if new.")
    paths: list[str] = Field(min_length=1, description="Files or folders on this machine.")
    max_file_bytes: int | None = Field(None, ge=1, description="Skip larger files.")
    ocr: bool | None = Field(
        None,
        description="Read scanned pages and pictures of text by OCR: on for a new collection; "
        "false switches it off, true on again (null leaves it as it is).",
    )
    stream: bool = Field(False, description="Stream progress events (server-sent events).")


class SyncCollection(BaseModel):
    max_file_bytes: int | None = Field(None, ge=1, description="Skip larger files.")
    stream: bool = False


class SearchDocuments(BaseModel):
    query: str = Field(min_length=1)
    collections: list[str] = Field(min_length=1)
    k: int = Field(5, ge=1, le=100)
    mode: SearchMode = "hybrid"


class PassageQuery(BaseModel):
    path: str = Field(description="The file the passage is from, as its source names it.")
    text: str = Field(min_length=1, description="The passage's text, as its source gives it.")
    around: int = Field(1, ge=0, le=5, description="Neighbouring chunks on each side.")


def _pump(events: Iterator[IngestEvent], out: queue.Queue[Any], stop: threading.Event) -> None:
    """Runs an indexing run in one thread, so the run can also be closed there: closing it
    releases the collection's write lock, which a run abandoned mid-way would hold forever."""
    try:
        for event in events:
            out.put(event)
            if stop.is_set():
                break
    except Exception as exc:  # the status line is sent: reported in-band
        out.put(exc)
    finally:
        getattr(events, "close", lambda: None)()
        out.put(None)


async def _sse(events: Iterator[IngestEvent]) -> AsyncIterator[str]:
    """Progress events; a client that disconnects (Pause in the GUI) stops the run after the
    batch being written, and a later sync resumes it."""
    out: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    # Not a daemon: at shutdown the run ends after its current batch instead of being killed
    # inside ONNX Runtime, which aborts the process.
    threading.Thread(target=_pump, args=(events, out, stop)).start()
    try:
        while (item := await asyncio.to_thread(out.get)) is not None:
            yield sse.encode(error_event(item) if isinstance(item, Exception) else item)
    finally:
        stop.set()


def _run(events: Iterator[IngestEvent], stream: bool) -> Any:
    """Progress as it happens, or the run's events once it has finished."""
    if stream:
        return event_response(_sse(events))
    return {"events": list(events)}


@router.get("/collections")
def list_collections(request: Request) -> list[CollectionInfo]:
    return services(request).documents.collections()


def _full_paths(paths: list[str]) -> list[str]:
    """The server's working folder is not the user's: a relative path would resolve against
    it, so only full paths (or ~/...) are accepted."""
    for raw in paths:
        if not Path(raw).expanduser().is_absolute():
            raise DocumentPathError(f"{raw!r} is not a full path: give it from the root, /...")
    return paths


@router.post("/collections")
def add_documents(body: AddDocuments, request: Request) -> Any:
    paths = _full_paths(body.paths)
    events = services(request).documents.add(body.name, paths, body.max_file_bytes, body.ocr)
    return _run(events, body.stream)


@router.get("/collections/{name}")
def get_collection(name: str, request: Request) -> CollectionDetail:
    library = services(request).documents
    return CollectionDetail(collection=library.collection(name), files=library.files(name))


@router.post("/collections/{name}/sync")
def sync_collection(name: str, body: SyncCollection, request: Request) -> Any:
    return _run(services(request).documents.sync(name, body.max_file_bytes), body.stream)


@router.delete("/collections/{name}", status_code=204)
def remove_collection(name: str, request: Request) -> None:
    svc = services(request)
    svc.documents.remove(name)
    svc.store.forget_collection(name)  # chats that used it answer from the model alone again


class DocumentTextQuery(BaseModel):
    path: str = Field(description="The file, as a source names it.")
    max_chars: int = Field(12_000, ge=1, le=1_000_000, description="Text to return at most.")


@router.post("/collections/{name}/text")
def text_of_document(name: str, body: DocumentTextQuery, request: Request) -> DocumentText:
    """A document's indexed text from its start, for a quick action on the whole document."""
    state = services(request).documents.state
    return document_text(state, name, body.path, body.max_chars)


@router.post("/collections/{name}/context")
def passage_in_context(name: str, body: PassageQuery, request: Request) -> PassageContext:
    """A cited passage with the chunks before and after it in its file, for the source
    preview."""
    state = services(request).documents.state
    return passage_context(state, name, body.path, body.text, body.around)


@router.post("/search")
def search_documents(body: SearchDocuments, request: Request) -> SearchResults:
    """The hits, and how much of the collections had vectors: while indexing fills them in,
    hybrid search ranks the chunks still without one by BM25 alone."""
    library = services(request).documents
    return library.search_results(body.query, body.collections, body.k, body.mode)
