"""A Hugging Face repo's GGUF files, and which of them a download takes: the file or quantization
asked for, whole when split in shards, with the vision projector (mmproj) beside it.

Only `list_repo` and `search_repos` touch the network, through `huggingface_hub` (which honours
HF_TOKEN and HF_HUB_OFFLINE); HF_ENDPOINT is read at each call, not when the library loads.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backend.errors import HearthError, InvalidRequestError, NotFoundError

LISTING_TIMEOUT_S = 10.0  # a Hub that does not answer is reported well within 30 s
TRANSFER_CHUNK_BYTES = 64 * 1024
SHARD = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
# A quantization as GGUF file names spell it: Q4_K_M, Q8_0, IQ4_XS, BF16, F16, F32.
QUANT = re.compile(r"(?:^|[-_.])((?:I?Q\d(?:_[A-Z0-9]+)*)|BF16|F16|F32)$", re.IGNORECASE)
QUANT_ANYWHERE = re.compile(r"(?:^|[-_.])((?:I?Q\d(?:_[A-Z0-9]+)*)|BF16|F16|F32)(?=[-.]|$)", re.I)
# Which projector a repo offering several comes with: full precision first, as llama.cpp's
# own repos recommend, then the smaller ones.
PROJECTOR_PREFERENCE = ("f16", "bf16", "q8_0")


class HubUnreachableError(HearthError):
    """Hugging Face (or HF_ENDPOINT) could not be reached, or refused to answer."""

    status = 502
    code = "hub_unreachable"


class RepoNotFoundError(NotFoundError):
    """No such repo, or one this token may not read."""

    code = "repo_not_found"


class NoModelFileError(InvalidRequestError):
    """The repo, or the file or quantization asked for, holds no GGUF model to download."""

    code = "no_model_file"


class ChoiceNeededError(InvalidRequestError):
    """The repo offers several files: the user must pick one, by file or by quantization."""

    status = 409
    code = "choice_needed"

    def __init__(self, message: str, choices: list[ModelChoice]) -> None:
        super().__init__(message)
        self.choices = choices


@dataclass(frozen=True)
class HubFile:
    """One file of a repo, with what the Hub says its bytes hash to."""

    name: str  # its path in the repo
    size: int
    sha256: str | None  # LFS files: the sha256 of the content
    git_sha1: str | None = None  # files kept in git itself: the git blob id

    @property
    def basename(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ModelChoice:
    """One model a repo offers: a single GGUF, or every shard of a split one, in order."""

    files: tuple[HubFile, ...]

    @property
    def name(self) -> str:
        return self.files[0].name

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def quantization(self) -> str:
        return quantization_of(self.files[0].basename)

    def describe(self) -> str:
        shards = f" ({len(self.files)} shards)" if len(self.files) > 1 else ""
        return f"{self.name}{shards}, {self.size / 1024**3:.2f} GiB"


@dataclass(frozen=True)
class RepoListing:
    """A repo at one commit: its GGUF models and vision projectors."""

    repo: str
    revision: str  # the commit every file is fetched from, so files cannot come from two
    choices: tuple[ModelChoice, ...]
    projectors: tuple[HubFile, ...]


@dataclass(frozen=True)
class RepoHit:
    """A repo a Hub search found."""

    repo: str
    downloads: int
    likes: int


def quantization_of(filename: str) -> str:
    """The quantization a GGUF's name says, upper-case ("Q4_K_M"), or "" when it says none."""
    stem = SHARD.sub(r"\g<stem>", filename)
    stem = stem[: -len(".gguf")] if stem.lower().endswith(".gguf") else stem
    match = QUANT.search(stem)
    return match.group(1).upper() if match else ""


def configure_hub() -> None:
    """Hearth's choices for `huggingface_hub`, made before each use (it reads these per call):
    no telemetry (its user agent would otherwise look up, on the Hub, which agent runs it), and
    transfers in small chunks, so progress and cancel come often and a dropped connection loses
    at most one chunk (its default is 10 MB)."""
    from huggingface_hub import constants

    constants.HF_HUB_DISABLE_TELEMETRY = True
    constants.DOWNLOAD_CHUNK_SIZE = TRANSFER_CHUNK_BYTES


def hub_endpoint() -> str:
    """HF_ENDPOINT as it is now, else the library's default (huggingface.co)."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def hub_token() -> str | None:
    """HF_TOKEN from the environment, else the token kept in Hearth's settings (a secret);
    None lets the library use its own login, if any."""
    from backend.paths import HomeLayout
    from backend.secret_store import SecretStore

    return os.environ.get("HF_TOKEN") or SecretStore.open(HomeLayout.current()).get("hf_token")


def _unreachable(exc: BaseException) -> HubUnreachableError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return HubUnreachableError(f"cannot reach Hugging Face ({hub_endpoint()}): {reason}")


def _ask_hub(call: Callable[[], Any], repo: str = "") -> Any:
    """`call`'s answer from the Hub; a network failure becomes one clear HearthError."""
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    configure_hub()
    try:
        return call()
    except GatedRepoError as exc:
        raise RepoNotFoundError(
            f"{repo} is gated: accept its terms on huggingface.co and give Hearth your access"
            " token (Settings: Hugging Face token, or HF_TOKEN)"
        ) from exc
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise RepoNotFoundError(
            f"no model repo named {repo} on Hugging Face (or it is private: give Hearth an"
            " access token that can read it, in Settings or HF_TOKEN)"
        ) from exc
    except OfflineModeIsEnabled as exc:
        raise HubUnreachableError("cannot reach Hugging Face: HF_HUB_OFFLINE is set") from exc
    except (HfHubHTTPError, httpx2.HTTPError, OSError, ValueError) as exc:
        raise _unreachable(exc) from exc


def repo_files(repo: str) -> tuple[str, list[HubFile]]:
    """The repo's current commit and every file in it, with sizes and hashes."""
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise InvalidRequestError(f"{repo!r} is not a repo id: write it as owner/name")
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_endpoint(), token=hub_token())
    info = _ask_hub(
        lambda: api.model_info(repo, files_metadata=True, timeout=LISTING_TIMEOUT_S), repo
    )
    files = [
        HubFile(
            name=s.rfilename,
            size=s.lfs.size if s.lfs else s.size or 0,
            sha256=s.lfs.sha256 if s.lfs else None,
            git_sha1=None if s.lfs else s.blob_id,
        )
        for s in info.siblings or []
    ]
    return info.sha or "main", files


def list_repo(repo: str) -> RepoListing:
    """The repo's GGUF models (shards grouped) and projectors, at its current commit."""
    revision, every = repo_files(repo)
    files = [f for f in every if f.name.lower().endswith(".gguf")]
    projectors = tuple(f for f in files if "mmproj" in f.basename.lower())
    models = [f for f in files if f not in projectors]
    return RepoListing(repo, revision, _group_shards(models), projectors)


def search_repos(text: str, limit: int = 20) -> list[RepoHit]:
    """GGUF repos whose name holds `text`, most downloaded first: asks the Hub, so only when
    the user searches. (HfApi.list_models takes no timeout; its request is made here with one.)"""
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    def ask() -> Any:
        answer = get_session().get(
            f"{hub_endpoint()}/api/models",
            params={"search": text, "filter": "gguf", "sort": "downloads", "limit": limit},
            headers=build_hf_headers(token=hub_token(), library_name="hearth"),
            timeout=LISTING_TIMEOUT_S,
        )
        hf_raise_for_status(answer)
        return answer.json()

    return [
        RepoHit(item["id"], item.get("downloads", 0), item.get("likes", 0))
        for item in _ask_hub(ask)
    ]


def _group_shards(files: list[HubFile]) -> tuple[ModelChoice, ...]:
    """Each single file is a choice; the shards of a split model together are one."""
    groups: dict[str, list[HubFile]] = {}
    for file in sorted(files, key=lambda f: f.name):
        shard = SHARD.match(file.name)
        key = f"{shard['stem']}-of-{shard['count']}" if shard else file.name
        groups.setdefault(key, []).append(file)
    return tuple(ModelChoice(tuple(group)) for group in groups.values())


def _token_match(quant: str, choice: ModelChoice) -> bool:
    stem = SHARD.sub(r"\g<stem>", choice.files[0].basename)
    return any(m.upper() == quant.upper() for m in QUANT_ANYWHERE.findall(stem))


def _listing(choices: list[ModelChoice]) -> str:
    return "; ".join(choice.describe() for choice in choices)


def choose(listing: RepoListing, file: str | None, quant: str | None) -> ModelChoice:
    """The model the user asked for; with no choice given, the repo's only one."""
    choices = list(listing.choices)
    if not choices:
        raise NoModelFileError(f"{listing.repo} holds no GGUF model file")
    if file is not None:
        picked = [c for c in choices if any(file in (f.name, f.basename) for f in c.files)]
        if not picked:
            raise NoModelFileError(
                f"{listing.repo} has no file named {file!r}; its models: {_listing(choices)}"
            )
        return picked[0]
    if quant is not None:
        choices = [c for c in choices if c.quantization.upper() == quant.upper()] or [
            c for c in choices if _token_match(quant, c)
        ]
        if not choices:
            offered = _listing(list(listing.choices))
            raise NoModelFileError(f"{listing.repo} has no {quant} file; its models: {offered}")
    if len(choices) > 1:
        raise ChoiceNeededError(
            f"{listing.repo} offers {len(choices)} models; pick one with --file or --quant: "
            f"{_listing(choices)}",
            choices,
        )
    return choices[0]


def projector_for(listing: RepoListing) -> HubFile | None:
    """The vision projector that comes with any model of the repo: the only one, or the
    preferred precision among several."""
    projectors = sorted(listing.projectors, key=lambda f: f.name)
    for precision in PROJECTOR_PREFERENCE:
        for projector in projectors:
            if quantization_of(projector.basename).lower() == precision:
                return projector
    return projectors[0] if projectors else None
