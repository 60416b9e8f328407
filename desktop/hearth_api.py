"""The backend calls the GUI makes, as plain methods over `BackendClient` (no Qt; for workers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from backend.client import BackendClient

CONVERSATIONS = "/hearth/conversations"


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
        self, conversation_id: str, content: str, replace_from: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Server-sent events: user, token..., then done or error."""
        body: dict[str, Any] = {"content": content, "stream": True}
        if replace_from is not None:
            body["replace_from"] = replace_from
        return self.client.stream_events(f"{CONVERSATIONS}/{conversation_id}/messages", body)

    def list_models(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.request("GET", "/hearth/models")
        return result

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.request("GET", "/hearth/status")
        return result
