"""Hearth's image routes: zero-shot labels and read text, folder indexing with progress, the
indexed folders, and search."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from backend import sse
from backend.errors import error_event
from backend.images.index import FolderNotFoundError, finished
from backend.images.registry import ImageModelInfo, describe_clip_models
from backend.server.event_stream import event_response
from backend.server.routes.openai import services
from backend.wire import (
    ImageHit,
    ImageIndexEvent,
    ImageReading,
    IndexedFolder,
    IndexedFolderRemoved,
)

router = APIRouter(prefix="/hearth/images", tags=["images"])


class LabelBody(BaseModel):
    image: str = Field(description="A file path or a base64 data URL.")
    labels: list[str] = Field(default_factory=list, description="Candidates; empty: defaults.")
    top: int = Field(5, ge=1, le=1000)
    text: bool = Field(True, description="Also read the text in the image (OCR).")


class IndexBody(BaseModel):
    folder: str
    stream: bool = Field(False, description="Send progress events while indexing.")


class SimilarBody(BaseModel):
    image: str = Field(description="A file path or a base64 data URL.")
    k: int = Field(12, ge=1, le=500)


@router.post("/label")
async def label(body: LabelBody, request: Request) -> ImageReading:
    """CLIP's labels for the image, and the text read in it with each line's box."""
    images = services(request).images
    return await asyncio.to_thread(
        images.read_reference, body.image, body.labels, body.top, body.text
    )


async def _progress_events(steps: Iterator[ImageIndexEvent]) -> AsyncIterator[str]:
    """One event per batch, then the totals; a failure part-way ends the stream with an error
    event, since its status line has gone out."""
    last = ImageIndexEvent(done=0, total=0)
    try:
        while (progress := await asyncio.to_thread(next, steps, None)) is not None:
            last = progress
            yield sse.encode(progress)
    except Exception as exc:  # what was embedded is kept; the client is told why it stopped
        yield sse.encode(error_event(exc))
        return
    yield sse.encode(finished(last))


def _full_path(raw: str) -> Path:
    """The server's working folder is not the user's: a relative path (and "", which is ".")
    would resolve against it, so only full paths (or ~/...) are accepted."""
    folder = Path(raw).expanduser()
    if not folder.is_absolute():
        raise FolderNotFoundError(f"{raw!r} is not a full path: give it from the root, /...")
    return folder


@router.post("/index")
async def index_folder(body: IndexBody, request: Request) -> Any:
    folder = _full_path(body.folder)
    index = await asyncio.to_thread(lambda: services(request).images.index)
    if not body.stream:
        return await asyncio.to_thread(index.index_all, folder)
    if not folder.is_dir():  # checked before the stream's headers go out
        raise FolderNotFoundError(f"{folder} is not a folder")
    return event_response(_progress_events(index.index_folder(folder)))


@router.get("/models")
def image_models(request: Request) -> list[ImageModelInfo]:
    """The image models to choose from (settings' `image_model`), the current one marked."""
    owners = services(request)
    return describe_clip_models(owners.layout, owners.settings.image_model)


@router.get("/folders")
async def indexed_folders(request: Request) -> list[IndexedFolder]:
    """The folders indexed so far, and which the current image model has not: index those
    again (POST /hearth/images/index) before search can find their images."""
    return await asyncio.to_thread(services(request).images.indexed_folders)


@router.delete("/folders")
async def remove_folder(request: Request, folder: str) -> IndexedFolderRemoved:
    """Forget an indexed folder: its pictures leave the search (the files stay)."""
    index = await asyncio.to_thread(lambda: services(request).images.index)
    return await asyncio.to_thread(index.remove_folder, _full_path(folder))


@router.get("/search")
async def search(
    request: Request,
    q: str,
    k: Annotated[int, Query(ge=1, le=500)] = 12,
    cutoff: Annotated[
        bool, Query(description="Leave out pictures far less likely than the best match.")
    ] = True,
) -> list[ImageHit]:
    """Pictures whose read text holds the words first, then by CLIP similarity."""
    index = await asyncio.to_thread(lambda: services(request).images.index)
    return await asyncio.to_thread(index.search, q, k, cutoff)


@router.post("/similar")
async def similar(body: SimilarBody, request: Request) -> list[ImageHit]:
    from backend.images.attachments import read_image_reference
    from backend.images.decode import open_image

    limit = services(request).settings.max_image_bytes
    data, name = read_image_reference(body.image, limit)
    index = await asyncio.to_thread(lambda: services(request).images.index)
    image = await asyncio.to_thread(open_image, data, name, 0, limit)
    return await asyncio.to_thread(index.similar_image, image, body.k)
