"""The backend calls the GUI makes, over HearthClient (no Qt; for workers).

Progress streams arrive as wire events. Conversations, messages, collections, models and search
hits still reach the views as the API's JSON objects (dicts), which is what the views read
today; they switch to the wire types view by view.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the client (and httpx) loads on the worker that connects
    from pydantic import BaseModel

    from backend.client import HearthClient
    from backend.wire import Health, ImageIndexEvent, IngestEvent


def _json(model: BaseModel) -> dict[str, Any]:
    """A wire object as the API sent it."""
    return model.model_dump(mode="json")


def _json_list(models: Iterable[BaseModel]) -> list[dict[str, Any]]:
    return [_json(model) for model in models]


class HearthApi:
    """One method per route the GUI uses; every method blocks, so call it from a worker."""

    def __init__(self, client: HearthClient) -> None:
        self.client = client

    def close(self) -> None:
        self.client.close()

    def health(self) -> Health:
        return self.client.health()

    def list_conversations(self, query: str = "") -> list[dict[str, Any]]:
        return _json_list(self.client.conversations.find(query))

    def create_conversation(
        self, title: str = "New chat", model: str | None = None
    ) -> dict[str, Any]:
        return _json(self.client.conversations.create(title, model))

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        """{"conversation": {...}, "messages": [...]}"""
        return _json(self.client.conversations.get(conversation_id))

    def update_conversation(self, conversation_id: str, **changes: Any) -> dict[str, Any]:
        """Changes: title, system_prompt, model, collections, settings (temperature, top_p,
        max_tokens)."""
        return _json(self.client.conversations.update(conversation_id, **changes))

    def delete_conversation(self, conversation_id: str) -> None:
        self.client.conversations.delete(conversation_id)

    def send_message(
        self,
        conversation_id: str,
        content: str,
        replace_from: int | None = None,
        images: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Server-sent events: user, token..., then done or error. Images are paths or data
        URLs; the backend labels them and stores a copy with the user message."""
        events = self.client.conversations.send(
            conversation_id, content, replace_from, images or ()
        )
        with closing(events):  # closing this stream closes the connection: the reply cancels
            for event in events:
                yield _json(event)

    # Documents -------------------------------------------------------------------------------

    def list_collections(self) -> list[dict[str, Any]]:
        return _json_list(self.client.documents.collections())

    def add_documents(self, name: str, paths: list[str]) -> Iterator[IngestEvent]:
        """Creates the collection if new; ingest events: planned, one per file, finished."""
        return self.client.documents.add(name, paths)

    def collection_files(self, name: str) -> list[dict[str, Any]]:
        """Every file of the collection: path, status (indexed, failed, pending), error."""
        return _json_list(self.client.documents.files(name))

    def sync_collection(self, name: str) -> Iterator[IngestEvent]:
        return self.client.documents.sync(name)

    def remove_collection(self, name: str) -> None:
        self.client.documents.remove(name)

    # Images ----------------------------------------------------------------------------------

    def label_image(self, image: str) -> list[dict[str, Any]]:
        """CLIP's best labels for a path or data URL: [{"label", "score"}]."""
        return _json_list(self.client.images.label(image))

    def index_images(self, folder: str) -> Iterator[ImageIndexEvent]:
        """Progress after each batch, then the totals."""
        return self.client.images.index_folder(folder)

    def search_images(self, query: str, k: int = 24) -> list[dict[str, Any]]:
        return _json_list(self.client.images.search(query, k))

    def list_models(self) -> list[dict[str, Any]]:
        return _json_list(self.client.models.available())
