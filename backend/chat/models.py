"""Which model answers a turn: the one asked for, else the documents or the default model."""

from __future__ import annotations

from backend.llm.types import ChatProvider, ResolvedModel
from backend.models.registry import UnknownModelError
from backend.settings import Settings


def resolve_model(
    provider: ChatProvider, settings: Settings, requested: str | None, with_documents: bool = False
) -> ResolvedModel:
    """The requested model; else, for a chat with documents, the documents model when it is
    installed; else the default. An unknown requested name raises UnknownModelError, never a
    silent fall-back."""
    if not requested and with_documents:
        try:
            return provider.check_model(settings.documents_model)
        except UnknownModelError:
            pass  # not installed (or not on the remote server): the default answers
    return provider.check_model(requested or settings.default_model)
