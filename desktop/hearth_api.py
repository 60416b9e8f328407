"""The backend calls the GUI makes, as plain methods over `BackendClient` (no Qt; for workers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # the client (and httpx) loads on the worker that connects
    from backend.client import BackendClient

CONVERSATIONS = "/hearth/conversations"
COLLECTIONS = "/hearth/documents/collections"
IMAGES = "/hearth/images"


class HearthApi:
    """One method per route the GUI uses; every method blocks, so call it from a worker."""

    def __init__(self, client: BackendClient) -> None:
        self.client = client

    def close(self) -> None:
        self.client.close()

    def health(self) -> dict[str, Any]:
        return self.client.health()

    def list_conversations(self, query: str = "") -> list[dict[str, Any]]:
        params = {"q": query} if query else None
        result: list[dict[str, Any]] = self.client.request("GET", CONVERSATIONS, params=params)
        return result

    def create_conversation(
        self, title: str = "New chat", model: str | None = None
    ) -> dict[str, Any]:
        body = {"title": title, "model": model}
        result: dict[str, Any] = self.client.request("POST", CONVERSATIONS, json=body)
        return result

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        """{"conversation": {...}, "messages": [...]}"""
        result: dict[str, Any] = self.client.request("GET", f"{CONVERSATIONS}/{conversation_id}")
        return result

    def update_conversation(self, conversation_id: str, **changes: Any) -> dict[str, Any]:
        """Changes: title, system_prompt, model, settings (temperature, top_p, max_tokens)."""
        path = f"{CONVERSATIONS}/{conversation_id}"
        result: dict[str, Any] = self.client.request("PATCH", path, json=changes)
        return result

    def delete_conversation(self, conversation_id: str) -> None:
        self.client.request("DELETE", f"{CONVERSATIONS}/{conversation_id}")

    def send_message(
        self,
        conversation_id: str,
        content: str,
        replace_from: int | None = None,
        images: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Server-sent events: user, token..., then done or error. Images are paths or data
        URLs; the backend labels them and stores a copy with the user message."""
        body: dict[str, Any] = {"content": content, "stream": True, "images": images or []}
        if replace_from is not None:
            body["replace_from"] = replace_from
        return self.client.stream_events(f"{CONVERSATIONS}/{conversation_id}/messages", body)

    # Documents -------------------------------------------------------------------------------

    def list_collections(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.request("GET", COLLECTIONS)
        return result

    def add_documents(self, name: str, paths: list[str]) -> Iterator[dict[str, Any]]:
        """Creates the collection if new; ingest events: planned, one per file, finished."""
        body = {"name": name, "paths": paths, "stream": True}
        return self.client.stream_events(COLLECTIONS, body)

    def collection_files(self, name: str) -> list[dict[str, Any]]:
        """Every file of the collection: path, status (indexed, failed, pending), error."""
        path = f"{COLLECTIONS}/{quote(name, safe='')}"
        result: list[dict[str, Any]] = self.client.request("GET", path)["files"]
        return result

    def sync_collection(self, name: str) -> Iterator[dict[str, Any]]:
        return self.client.stream_events(
            f"{COLLECTIONS}/{quote(name, safe='')}/sync", {"stream": True}
        )

    def remove_collection(self, name: str) -> None:
        self.client.request("DELETE", f"{COLLECTIONS}/{quote(name, safe='')}")

    def search_documents(self, query: str, collections: list[str]) -> list[dict[str, Any]]:
        body = {"query": query, "collections": collections}
        result: list[dict[str, Any]] = self.client.request(
            "POST", "/hearth/documents/search", json=body
        )
        return result

    # Images ----------------------------------------------------------------------------------

    def label_image(self, image: str) -> list[dict[str, Any]]:
        """CLIP's best labels for a path or data URL: [{"label", "score"}]."""
        result: list[dict[str, Any]] = self.client.request(
            "POST", f"{IMAGES}/label", json={"image": image}
        )
        return result

    def index_images(self, folder: str) -> Iterator[dict[str, Any]]:
        """Progress events (done, total, current, failures), then {"type": "done"}."""
        return self.client.stream_events(f"{IMAGES}/index", {"folder": folder, "stream": True})

    def search_images(self, query: str, k: int = 24) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.request(
            "GET", f"{IMAGES}/search", params={"q": query, "k": k}
        )
        return result

    def list_models(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.request("GET", "/hearth/models")
        return result

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.request("GET", "/hearth/status")
        return result
