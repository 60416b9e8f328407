"""What a chat turn needs from the backend: the provider, the store, documents and images."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from backend.chat.generation import GenerationTracker
    from backend.documents.library import DocumentLibrary
    from backend.images.service import ImageService
    from backend.llm.types import ChatProvider
    from backend.settings import Settings
    from backend.store import ConversationStore


class ChatServices(Protocol):
    """The owners a turn asks; the server's `Services` is one."""

    @property
    def settings(self) -> Settings: ...

    @property
    def provider(self) -> ChatProvider: ...

    @property
    def store(self) -> ConversationStore: ...

    @property
    def documents(self) -> DocumentLibrary: ...

    @property
    def images(self) -> ImageService: ...

    @property
    def generations(self) -> GenerationTracker: ...
