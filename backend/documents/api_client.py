"""The documents operations through a running backend's API, so the CLI never opens the same
Chroma store as a live `hearth serve` from a second process."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from backend.client import BackendClient, BackendError
from backend.documents.ingest import IngestEvent
from backend.documents.retrieval import Hit, SearchMode
from backend.documents.state import CollectionInfo

PREFIX = "/hearth/documents"


class Documents(Protocol):
    """What the CLI needs, served in process (DocumentLibrary) or by the backend."""

    def collections(self) -> list[CollectionInfo]: ...

    def collection(self, name: str) -> CollectionInfo: ...

    def add(
        self, name: str, paths: Sequence[str | Path], max_file_bytes: int | None = None
    ) -> Iterator[IngestEvent]: ...

    def sync(self, name: str, max_file_bytes: int | None = None) -> Iterator[IngestEvent]: ...

    def remove(self, name: str) -> None: ...

    def search(
        self, query: str, collections: Sequence[str], k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[Hit]: ...

    def close(self) -> None: ...


def _from_here(path: str | Path) -> str:
    """Relative paths mean the CLI's working folder, not the backend's. An empty one stays
    empty, for the backend to refuse instead of indexing this folder."""
    return str(Path(path).expanduser().absolute()) if str(path) else ""


class ApiDocuments:
    """Documents through `/hearth/documents`; failures raise BackendError with the reason."""

    def __init__(self, client: BackendClient) -> None:
        self._client = client

    def collections(self) -> list[CollectionInfo]:
        found = self._client.request("GET", f"{PREFIX}/collections")
        return [CollectionInfo.model_validate(c) for c in found]

    def collection(self, name: str) -> CollectionInfo:
        found = self._client.request("GET", f"{PREFIX}/collections/{name}")
        return CollectionInfo.model_validate(found["collection"])

    def add(
        self, name: str, paths: Sequence[str | Path], max_file_bytes: int | None = None
    ) -> Iterator[IngestEvent]:
        body = {
            "name": name,
            "paths": [_from_here(p) for p in paths],
            "max_file_bytes": max_file_bytes,
            "stream": True,
        }
        return self._events(f"{PREFIX}/collections", body)

    def sync(self, name: str, max_file_bytes: int | None = None) -> Iterator[IngestEvent]:
        body = {"max_file_bytes": max_file_bytes, "stream": True}
        return self._events(f"{PREFIX}/collections/{name}/sync", body)

    def remove(self, name: str) -> None:
        self._client.request("DELETE", f"{PREFIX}/collections/{name}")

    def search(
        self, query: str, collections: Sequence[str], k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[Hit]:
        body = {"query": query, "collections": list(collections), "k": k, "mode": mode}
        found = self._client.request("POST", f"{PREFIX}/search", json=body)
        return [Hit.model_validate(h) for h in found]

    def close(self) -> None:
        self._client.close()

    def _events(self, path: str, body: dict[str, Any]) -> Iterator[IngestEvent]:
        for event in self._client.stream_events(path, body):
            if "error" in event:
                raise BackendError(event["error"]["message"])
            yield IngestEvent.model_validate(event)
