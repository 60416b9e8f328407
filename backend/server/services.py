"""Everything the routes share: settings, models, chat, conversations, documents, images."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.documents.library import DocumentLibrary
from backend.images.service import ImageService
from backend.llm.types import ChatProvider
from backend.models.registry import ModelRegistry, UnknownModelError
from backend.paths import HomeLayout
from backend.server.streaming import GenerationTracker
from backend.settings import Settings
from backend.store import ConversationStore


def make_provider(settings: Settings, registry: ModelRegistry) -> ChatProvider:
    """llama.cpp in process, unless settings point chat at a remote server."""
    if settings.remote_llm_url:
        from backend.llm.remote import RemoteProvider

        return RemoteProvider(settings.remote_llm_url, settings.remote_llm_api_key)
    from backend.llm.runtime import LlamaRuntime

    return LlamaRuntime(registry, settings)


@dataclass
class Services:
    layout: HomeLayout
    settings: Settings
    registry: ModelRegistry
    provider: ChatProvider
    store: ConversationStore
    documents: DocumentLibrary
    images: ImageService
    generations: GenerationTracker = field(default_factory=GenerationTracker)

    @classmethod
    def open(cls, layout: HomeLayout, settings: Settings) -> Services:
        layout.ensure()
        registry = ModelRegistry(layout)
        return cls(
            layout=layout,
            settings=settings,
            registry=registry,
            provider=make_provider(settings, registry),
            store=ConversationStore(layout.database),
            documents=DocumentLibrary(layout, settings),
            images=ImageService(layout, settings),
        )

    def resolve_model(self, requested: str | None, with_documents: bool = False) -> str:
        """The requested model; else, for a chat with documents, the documents model when it is
        installed; else the default. An unknown requested name raises UnknownModelError."""
        if not requested and with_documents:
            try:
                return self.provider.check_model(self.settings.documents_model)
            except UnknownModelError:
                pass  # not installed (or not on the remote server): the default answers
        return self.provider.check_model(requested or self.settings.default_model)

    def close(self) -> None:
        self.generations.cancel_all()
        self.provider.close()
        self.store.close()
        self.documents.close()
