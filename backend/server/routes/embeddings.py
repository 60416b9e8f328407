"""OpenAI-compatible /v1/embeddings, served by the backend's one embedder (documents use it too)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Request
from pydantic import ConfigDict, Field, field_validator

from backend.embeddings.long_input import embed_whole
from backend.embeddings.minilm import MODEL_NAME, MiniLmEmbedder
from backend.embeddings.names import OPENAI_ALIASES, answers_to
from backend.models.registry import UnknownModelError
from backend.server.routes.openai import services
from backend.server.schemas import RequestBody
from backend.wire import Embedding, EmbeddingList, EmbeddingUsage

if TYPE_CHECKING:
    import numpy as np

router = APIRouter()

MAX_INPUTS = 2048  # OpenAI's own limit on the texts of one request

# Token ids are refused rather than read: OpenAI's clients (LangChain's OpenAIEmbeddings by
# default) send tiktoken ids, OpenAI's vocabulary. Read as MiniLM's word-piece ids they would
# give a vector of unrelated words without any error, and turning them back into text needs
# tiktoken's encoding files, which Hearth, offline, does not have. A 400 is better than a
# silently wrong embedding.
TOKEN_IDS_REFUSED = (
    "input holds token ids. Clients of OpenAI's API send tiktoken ids (OpenAI's vocabulary), "
    f"which {MODEL_NAME} cannot read and Hearth, offline, cannot turn back into text. Send the "
    "text itself; with LangChain's OpenAIEmbeddings, set check_embedding_ctx_length=False."
)


class EmbeddingsBody(RequestBody):
    model_config = ConfigDict(extra="forbid")

    input: str | list[str] = Field(
        description="A text or a list of texts (at most 2048). A text longer than the "
        "embedder's window is embedded whole: cut into windows whose vectors are averaged."
    )
    model: str | None = Field(
        MODEL_NAME,
        description=f"{MODEL_NAME}, or one of OpenAI's embedding model names as an alias of it.",
    )
    encoding_format: Literal["float", "base64"] | None = Field(
        "float", description="base64: each vector's little-endian float32 bytes."
    )
    dimensions: int | None = Field(
        None,
        description=f"Only {MiniLmEmbedder.dimensions}: the embedder's vectors have a fixed size.",
    )
    user: str | None = Field(
        None, description="OpenAI's end-user id: accepted, and it does not change the output."
    )

    @field_validator("input", mode="before")
    @classmethod
    def _texts_only(cls, value: Any) -> Any:
        if not isinstance(value, str | list):
            raise ValueError("input must be a text or a list of texts")
        if isinstance(value, list):
            if not value:
                raise ValueError("input is an empty list; send at least one text")
            if len(value) > MAX_INPUTS:
                raise ValueError(f"input holds {len(value)} texts; at most {MAX_INPUTS} are taken")
            if any(isinstance(item, int | list) and not isinstance(item, bool) for item in value):
                raise ValueError(TOKEN_IDS_REFUSED)
        return value

    @field_validator("dimensions")
    @classmethod
    def _fixed_dimensions(cls, value: int | None) -> int | None:
        fixed = MiniLmEmbedder.dimensions
        if value is not None and value != fixed:
            raise ValueError(
                f"dimensions={value} is not supported: {MODEL_NAME} gives {fixed} numbers and "
                f"was not trained to be shortened; leave dimensions out (or send {fixed})"
            )
        return value

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else self.input


@router.post("/v1/embeddings")
def embeddings(body: EmbeddingsBody, request: Request) -> EmbeddingList:
    """The `model` of the answer is always the embedder that made the vectors, also when the
    request named one of OpenAI's models: clients read the vectors, not that name, and a
    record of which model really answered is worth more than an echo."""
    if not answers_to(body.model or MODEL_NAME):
        known = ", ".join((MODEL_NAME, *OPENAI_ALIASES))
        raise UnknownModelError(
            f"Unknown embedding model {body.model!r}; use one of: {known}.", param="model"
        )
    embedded = embed_whole(services(request).embedder.get(), body.texts())
    tokens = sum(embedded.tokens)

    def encode(row: np.ndarray) -> list[float] | str:
        if body.encoding_format == "base64":
            return base64.b64encode(row.astype("<f4").tobytes()).decode()
        vector: list[float] = row.tolist()
        return vector

    return EmbeddingList(
        model=MODEL_NAME,
        data=[Embedding(index=i, embedding=encode(v)) for i, v in enumerate(embedded.vectors)],
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
