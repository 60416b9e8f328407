"""Model downloads from Hugging Face and the catalog: a repo's models, the downloads the
backend runs one at a time (start, follow, cancel), deleting a downloaded model, and the
curated catalog with fit badges.

Registered before the models router: `/hearth/models/{name}` would otherwise take these paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from backend import sse
from backend.models.catalog import catalog_entries, load_catalog
from backend.models.download_queue import DownloadQueue
from backend.models.download_record import delete_download
from backend.models.download_request import DownloadRequest, prepare_download
from backend.models.hub import list_repo, projector_for, search_repos
from backend.models.memory import available_memory
from backend.server.event_stream import event_response
from backend.server.routes.openai import services
from backend.server.schemas import RequestBody
from backend.wire import (
    CatalogEntry,
    DownloadEvent,
    DownloadStatus,
    HubChoice,
    HubRepo,
    HubSearchHit,
)

router = APIRouter(prefix="/hearth/models", tags=["downloads"])


class StartDownload(RequestBody):
    repo: str = Field(description="owner/name on Hugging Face, or a catalog id.")
    file: str | None = Field(None, description="The GGUF file (a split model's first shard).")
    quant: str | None = Field(None, description='The quantization, like "Q4_K_M".')
    allow_too_big: bool = Field(False, description="Download even if it will not fit the RAM.")
    stream: bool = Field(False, description="Answer with its progress events until it ends.")


def downloads(request: Request) -> DownloadQueue:
    queue: DownloadQueue = request.app.state.downloads
    return queue


async def _events(statuses: Iterator[DownloadStatus]) -> AsyncIterator[str]:
    """Each status as an event until the download ends; leaving does not cancel it."""
    while (status := await asyncio.to_thread(next, statuses, None)) is not None:
        yield sse.encode(DownloadEvent(**status.model_dump()))


@router.delete("/{name}", status_code=204)
def delete_model(name: str, request: Request) -> None:
    """Delete a model Hearth downloaded (403 for any other: never another app's files)."""
    svc = services(request)
    delete_download(svc.layout, svc.registry.get(name).path)


@router.get("/catalog")
def catalog() -> list[CatalogEntry]:
    return catalog_entries(load_catalog(), available_memory())


@router.get("/hub")
async def search_hub(
    request: Request, search: str, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[HubSearchHit]:
    """GGUF repos whose name holds `search`, most downloaded first: asks Hugging Face."""
    hits = await asyncio.to_thread(search_repos, search, limit)
    return [HubSearchHit(repo=h.repo, downloads=h.downloads, likes=h.likes) for h in hits]


@router.get("/hub/{owner}/{name}")
async def hub_repo(owner: str, name: str) -> HubRepo:
    """The repo's GGUF models with their sizes: asks Hugging Face."""
    listing = await asyncio.to_thread(list_repo, f"{owner}/{name}")
    projector = projector_for(listing)
    return HubRepo(
        repo=listing.repo,
        revision=listing.revision,
        choices=[
            HubChoice(
                file=c.name,
                files=[f.name for f in c.files],
                size=c.size,
                quantization=c.quantization,
            )
            for c in listing.choices
        ],
        projector=projector.name if projector else None,
    )


@router.post("/downloads", status_code=202)
async def start_download(body: StartDownload, request: Request) -> Any:
    """Plan it (409 listing the models when a choice is needed; 400 when it will not fit the
    disk or the RAM), then queue it."""
    svc = services(request)
    wanted = DownloadRequest(body.repo, body.file, body.quant, body.allow_too_big)
    plan = await asyncio.to_thread(prepare_download, svc.layout, svc.settings.context_size, wanted)
    queue = downloads(request)
    status = queue.submit(plan)
    if not body.stream:
        return status
    return event_response(_events(queue.watch(status.id)))


@router.get("/downloads")
def list_downloads(request: Request) -> list[DownloadStatus]:
    return downloads(request).statuses()


@router.get("/downloads/{download_id}")
def download_status(download_id: str, request: Request) -> DownloadStatus:
    return downloads(request).status(download_id)


@router.get("/downloads/{download_id}/events")
def download_events(download_id: str, request: Request) -> Any:
    queue = downloads(request)
    queue.status(download_id)  # an unknown id is a 404 before the stream starts
    return event_response(_events(queue.watch(download_id)))


@router.delete("/downloads/{download_id}")
def cancel_download(download_id: str, request: Request) -> DownloadStatus:
    """A queued download never starts; a running one stops, keeping its partial files."""
    return downloads(request).cancel(download_id)
