"""Everything the routes share: settings, models, chat, conversations, documents, images."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial

from backend.chat.generation import GenerationTracker
from backend.documents.library import DocumentLibrary, load_embedder
from backend.documents.vector_store import VectorStore
from backend.embeddings.minilm import MiniLmEmbedder
from backend.images.service import ImageService
from backend.lazy import Lazy
from backend.llm.types import ChatProvider
from backend.models.discovery import ModelDiscovery
from backend.models.registry import ModelRegistry
from backend.paths import HomeLayout
from backend.settings import Settings
from backend.store import ConversationStore

log = logging.getLogger(__name__)


REMOTE_PARALLEL = 4  # replies a remote server is asked for at once; llama.cpp runs one


def generation_tracker(settings: Settings) -> GenerationTracker:
    """The generations' line: as many run as the provider serves at once, the rest wait."""
    slots = REMOTE_PARALLEL if settings.remote_llm_url else 1
    return GenerationTracker(slots, settings.generation_queue_depth)


def make_provider(settings: Settings, registry: ModelRegistry) -> ChatProvider:
    """llama.cpp in process, unless settings point chat at a remote server."""
    if settings.remote_llm_url:
        from backend.llm.remote import RemoteProvider

        return RemoteProvider(settings.remote_llm_url, settings.remote_llm_api_key, REMOTE_PARALLEL)
    from backend.llm.runtime import LlamaRuntime

    return LlamaRuntime(registry, settings)


@dataclass
class Services:
    """Each heavy resource once: the chat provider, the embedder and the one Chroma client
    (`vectors`) that documents and images share. The embedder and Chroma open on first use."""

    layout: HomeLayout
    settings: Settings
    registry: ModelRegistry
    provider: ChatProvider
    store: ConversationStore
    embedder: Lazy[MiniLmEmbedder]
    vectors: VectorStore
    documents: DocumentLibrary
    images: ImageService
    generations: GenerationTracker = field(default_factory=GenerationTracker)

    @classmethod
    def open(cls, layout: HomeLayout, settings: Settings) -> Services:
        layout.ensure()
        registry = ModelRegistry(layout, discovery=ModelDiscovery.from_settings(settings))
        embedder = Lazy(partial(load_embedder, settings))
        vectors = VectorStore(layout, settings.chroma_url)
        store = ConversationStore(layout.database)
        if unfinished := store.interrupt_unfinished():  # a server killed mid-reply left these
            log.info("%d replies the last run left unfinished are now interrupted", unfinished)
        return cls(
            layout=layout,
            settings=settings,
            registry=registry,
            provider=make_provider(settings, registry),
            store=store,
            embedder=embedder,
            vectors=vectors,
            documents=DocumentLibrary(layout, settings, vectors=vectors, embedder=embedder),
            images=ImageService(layout, settings, vectors),
            generations=generation_tracker(settings),
        )

    def close(self) -> None:
        self.generations.cancel_all()
        self.provider.close()
        self.store.close()
        self.documents.close()
        self.vectors.close()
