"""Downloading a GGUF model from Hugging Face: plan it (which files, will they fit the disk and
the RAM), fetch each file with `huggingface_hub`'s HTTP transfer into a partial file that
survives a dropped connection or a killed process, verify the hash the Hub reports, and only
then move the files where the registry lists them.

Partial files live in HEARTH_HOME/downloads/, outside the models folder, named `*.incomplete`:
the registry never sees a file that is not complete and verified. Running the same download
again resumes them with a Range request.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from backend.errors import HearthError, InvalidRequestError
from backend.models.download_record import (
    DownloadedFile,
    DownloadRecord,
    model_folder,
    read_record,
    write_record,
)
from backend.models.hub import (
    HubFile,
    HubUnreachableError,
    RepoListing,
    choose,
    configure_hub,
    hub_endpoint,
    hub_token,
    projector_for,
)
from backend.models.memory import GIB, OVERHEAD_BYTES, MemoryEstimate, ModelTooLargeError
from backend.paths import HomeLayout

# Before a download only the file size is known, not the model's shape: its KV cache is taken
# as 128 KiB per token of context, what 1-8B models with grouped-query attention need at f16
# (Qwen3-0.6B 112 KiB, Llama-3.2-3B 112 KiB, Qwen3-8B 144 KiB, Llama-3.2-1B 32 KiB).
KV_BYTES_PER_TOKEN = 128 * 1024
DISK_MARGIN_BYTES = 256 * 1024**2  # left free, so a finished download does not fill the disk
HASH_BLOCK = 8 * 1024**2


class NotEnoughDiskError(InvalidRequestError):
    """The files would not fit the free space of the disk holding HEARTH_HOME."""

    code = "not_enough_disk"


class DownloadTooLargeError(ModelTooLargeError):
    """The model would not fit the RAM available; refused before a byte is fetched."""


class ChecksumMismatchError(HearthError):
    """The bytes received do not hash to what the Hub reports: the file was deleted."""

    status = 502
    code = "checksum_mismatch"


class DownloadCancelledError(HearthError):
    """The download was cancelled; what was fetched stays, to resume later."""

    status = 409  # the request conflicts with the user having stopped it
    type = "invalid_request_error"
    code = "download_cancelled"


class DownloadBusyError(InvalidRequestError):
    """Another process is downloading the same files."""

    status = 409
    code = "download_busy"


@dataclass(frozen=True)
class DownloadPlan:
    """What one download fetches, from which commit, and where it will land."""

    repo: str
    revision: str
    files: tuple[HubFile, ...]  # the model (every shard, in order), then its projector
    folder: Path  # where the verified files go
    staging: Path  # where the partial files grow

    @property
    def model_file(self) -> HubFile:
        return self.files[0]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def partial(self, file: HubFile) -> Path:
        """Named by content hash too, so a file changed upstream never resumes a stale one."""
        tag = (file.sha256 or file.git_sha1 or "nohash")[:16]
        return self.staging / f"{file.basename}.{tag}.incomplete"

    def partial_bytes(self) -> int:
        return sum(p.stat().st_size for f in self.files if (p := self.partial(f)).exists())


def plan_download(
    layout: HomeLayout, listing: RepoListing, file: str | None, quant: str | None
) -> DownloadPlan:
    """The files of the model asked for, with the repo's projector so a vision model can see."""
    choice = choose(listing, file, quant)
    projector = projector_for(listing)
    files = choice.files + ((projector,) if projector is not None else ())
    return DownloadPlan(
        repo=listing.repo,
        revision=listing.revision,
        files=files,
        folder=model_folder(layout, listing.repo, choice.files[0].name),
        staging=layout.root / "downloads" / listing.repo.replace("/", "--"),
    )


def size_estimate(download_bytes: int, context: int, available: int) -> MemoryEstimate:
    """memory.py's estimate from the file sizes alone: weights as big as the files, and a
    KV cache typical of such models at `context` tokens."""
    return MemoryEstimate(download_bytes, KV_BYTES_PER_TOKEN * context, available)


def _free_space(folder: Path) -> int:
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    return shutil.disk_usage(existing).free


def check_room(plan: DownloadPlan, context: int, available: int, allow_too_big: bool) -> None:
    """Refuse, with both numbers, a download that would not fit the RAM or the disk."""
    estimate = size_estimate(plan.total_bytes, context, available)
    if not estimate.fits and not allow_too_big:
        raise DownloadTooLargeError(
            f"{plan.repo} ({plan.model_file.name}) needs about {estimate.total / GIB:.1f} GiB of "
            f"RAM ({plan.total_bytes / GIB:.1f} GiB of files + about "
            f"{(estimate.kv_cache + OVERHEAD_BYTES) / GIB:.1f} GiB for {context} tokens of "
            f"context) but only {available / GIB:.1f} GiB is available; choose a smaller "
            "quantization or model, or download anyway with --force"
        )
    remaining = plan.total_bytes - plan.partial_bytes()
    free = _free_space(plan.staging)
    if remaining + DISK_MARGIN_BYTES > free:
        raise NotEnoughDiskError(
            f"{plan.repo} needs {remaining / GIB:.2f} GiB more disk space but only "
            f"{free / GIB:.2f} GiB is free where HEARTH_HOME is ({plan.staging.parent.parent}); "
            "free some space and try again"
        )


@dataclass
class Progress:
    """How far a download has got; `rate` counts only this run's bytes, not resumed ones."""

    bytes_total: int
    bytes_done: int = 0
    current_file: str = ""
    state: Literal["downloading", "verifying"] = "downloading"
    started: float = field(default_factory=time.monotonic)
    resumed_from: int = 0

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        fetched = self.bytes_done - self.resumed_from
        return fetched / elapsed if elapsed > 0 and fetched > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        return (self.bytes_total - self.bytes_done) / rate if rate > 0 else None


Listener = Callable[[Progress], None]


class _ProgressBar:
    """Stands in for the tqdm bar `huggingface_hub`'s transfer updates after each chunk: it
    forwards the bytes, and raises there when the download is cancelled."""

    def __init__(self, progress: Progress, listener: Listener, cancel: threading.Event) -> None:
        self._progress, self._listener, self._cancel = progress, listener, cancel

    def __call__(self, **_bar_options: Any) -> _ProgressBar:
        return self

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        """Called with each chunk before it is written: a cancel takes effect at the next
        chunk, so every chunk counted is on disk."""
        check_cancelled(self._cancel)
        self._progress.bytes_done += n
        self._listener(self._progress)


def check_cancelled(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise DownloadCancelledError("download cancelled; run it again to resume")


def _fetch(plan: DownloadPlan, file: HubFile, bar: _ProgressBar) -> Path:
    """Append the file's missing bytes to its partial file, resuming with a Range request;
    `http_get` itself retries a dropped connection from where it stopped."""
    import httpx2
    from huggingface_hub.file_download import hf_hub_url, http_get
    from huggingface_hub.utils import build_hf_headers

    configure_hub()
    partial = plan.partial(file)
    url = hf_hub_url(plan.repo, file.name, revision=plan.revision, endpoint=hub_endpoint())
    headers = build_hf_headers(token=hub_token(), library_name="hearth")
    with partial.open("ab") as out:
        if out.tell() > file.size:  # longer than the file can be: start over
            out.truncate(0)
        try:
            http_get(
                url,
                out,
                resume_size=out.tell(),
                headers=headers,
                expected_size=file.size,
                displayed_filename=file.basename,
                tqdm_class=cast(Any, bar),
            )
        except (httpx2.HTTPError, OSError) as exc:  # the Hub's HTTP errors are OSErrors too
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise HubUnreachableError(
                f"cannot reach Hugging Face ({hub_endpoint()}) for {file.name}: {reason}; "
                "what was fetched is kept: run the download again to resume"
            ) from exc
    return partial


def _digest(path: Path, file: HubFile) -> tuple[str, str]:
    """(expected, actual): sha256 for LFS files, the git blob id for files kept in git."""
    if file.sha256 is None:
        hasher = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
        expected = file.git_sha1 or ""
    else:
        hasher, expected = hashlib.sha256(), file.sha256
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            hasher.update(block)
    return expected.lower(), hasher.hexdigest()


def verify(path: Path, file: HubFile) -> None:
    """The file must hash to what the Hub reports; if not, it is deleted."""
    expected, actual = _digest(path, file)
    if expected and actual != expected:
        path.unlink(missing_ok=True)
        kind = "sha256" if file.sha256 else "git blob id"
        raise ChecksumMismatchError(
            f"{file.name}: the bytes received do not match the {kind} Hugging Face reports "
            f"(expected {expected}, got {actual}); the file was deleted, run the download again"
        )


def _install(plan: DownloadPlan, partials: list[Path]) -> Path:
    """Move the verified files into the models folder, the model itself last, so the registry
    never lists it before its projector and record are in place."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    record = DownloadRecord(
        repo=plan.repo,
        revision=plan.revision,
        model=plan.model_file.basename,
        files=[DownloadedFile(name=f.name, size=f.size, sha256=f.sha256) for f in plan.files],
    )
    for file, partial in reversed(list(zip(plan.files, partials, strict=True))):
        if file is plan.model_file:
            write_record(plan.folder, record)
        _flush_to_disk(partial)  # a crash after the rename never leaves a short model file
        os.replace(partial, plan.folder / file.basename)
    with contextlib.suppress(OSError):  # other partials of the repo may still be there
        plan.staging.rmdir()
    return plan.folder / plan.model_file.basename


def _flush_to_disk(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())


def installed(plan: DownloadPlan) -> Path | None:
    """The model file if this exact download has already finished."""
    record = read_record(plan.folder)
    model = plan.folder / plan.model_file.basename
    if record is None or record.revision != plan.revision or not model.exists():
        return None
    return model if all((plan.folder / f.basename).exists() for f in plan.files) else None


def run_download(plan: DownloadPlan, listener: Listener, cancel: threading.Event) -> Path:
    """Fetch, verify and install every file of `plan`; returns the model file's path. One
    process at a time downloads a repo: two appending to one partial file would spoil it."""
    from filelock import FileLock, Timeout

    plan.staging.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(plan.staging.with_name(f"{plan.staging.name}.lock"), timeout=0):
            return _download_locked(plan, listener, cancel)
    except Timeout as exc:
        raise DownloadBusyError(
            f"another Hearth process is downloading {plan.repo}; wait for it to finish"
        ) from exc


def _download_locked(plan: DownloadPlan, listener: Listener, cancel: threading.Event) -> Path:
    done = installed(plan)
    if done is not None:
        return done
    progress = Progress(bytes_total=plan.total_bytes)
    progress.bytes_done = progress.resumed_from = plan.partial_bytes()
    listener(progress)
    bar = _ProgressBar(progress, listener, cancel)
    partials = []
    for file in plan.files:
        progress.current_file = file.name
        partials.append(_fetch(plan, file, bar))
        check_cancelled(cancel)
    progress.state = "verifying"
    for file, partial in zip(plan.files, partials, strict=True):
        progress.current_file = file.name
        listener(progress)
        verify(partial, file)
    return _install(plan, partials)
