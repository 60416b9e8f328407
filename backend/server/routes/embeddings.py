"""OpenAI-compatible /v1/embeddings, served by the backend's one embedder (documents use it too)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, Request
from pydantic import Field

from backend.embeddings.minilm import MODEL_NAME
from backend.models.registry import UnknownModelError
from backend.server.routes.openai import services
from backend.server.schemas import RequestBody
from backend.wire import Embedding, EmbeddingList, EmbeddingUsage

if TYPE_CHECKING:
    import numpy as np

router = APIRouter()


class EmbeddingsBody(RequestBody):
    input: str | list[str] = Field(description="Text or texts to embed.")
    model: str = MODEL_NAME
    encoding_format: Literal["float", "base64"] = "float"

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else self.input


@router.post("/v1/embeddings")
def embeddings(body: EmbeddingsBody, request: Request) -> EmbeddingList:
    if body.model != MODEL_NAME:
        raise UnknownModelError(f"Unknown embedding model {body.model!r}; use {MODEL_NAME!r}.")
    embedder = services(request).embedder.get()
    texts = body.texts()
    vectors = embedder.embed(texts)
    tokens = sum(embedder.count_tokens(texts)) if texts else 0

    def encode(row: np.ndarray) -> list[float] | str:
        if body.encoding_format == "base64":
            return base64.b64encode(row.astype("<f4").tobytes()).decode()
        vector: list[float] = row.tolist()
        return vector

    return EmbeddingList(
        model=MODEL_NAME,
        data=[Embedding(index=i, embedding=encode(v)) for i, v in enumerate(vectors)],
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
