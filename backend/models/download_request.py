"""What a user asks to download (a repo or a catalog id, a file or a quantization), turned into
a plan that has passed the disk and memory checks: the one entry point of the CLI and the API."""

from __future__ import annotations

from dataclasses import dataclass

from backend.models.catalog import find_in_catalog, load_catalog
from backend.models.download import DownloadPlan, check_room, plan_download
from backend.models.hub import NoModelFileError, list_repo
from backend.models.memory import available_memory
from backend.paths import HomeLayout


@dataclass(frozen=True)
class DownloadRequest:
    repo: str  # owner/name, or the id of a catalog model
    file: str | None = None
    quant: str | None = None
    allow_too_big: bool = False  # download even if the RAM estimate says it will not fit


def resolve_catalog_id(request: DownloadRequest) -> DownloadRequest:
    """A catalog id stands for its repo and file, unless a file or quantization is given."""
    if "/" in request.repo:
        return request
    model = find_in_catalog(load_catalog(), request.repo)
    if model.kind != "chat":
        raise NoModelFileError(
            f"{model.id} is an image model, not a GGUF chat model: download and add it with "
            f"`hearth models add-clip {model.id}` (--quantized for the smaller variant)"
        )
    file = request.file or (None if request.quant else model.file)
    return DownloadRequest(model.repo, file, request.quant, request.allow_too_big)


def prepare_download(
    layout: HomeLayout, context: int, request: DownloadRequest, available: int | None = None
) -> DownloadPlan:
    """List the repo (the only network call before the transfer), pick the files and check
    they fit: nothing is fetched unless this returns."""
    request = resolve_catalog_id(request)
    listing = list_repo(request.repo)
    plan = plan_download(layout, listing, request.file, request.quant)
    memory = available_memory() if available is None else available
    check_room(plan, context, memory, request.allow_too_big)
    return plan
