"""OpenAI-compatible /v1/embeddings, served by the backend's one embedder (documents use it too)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Literal, cast

from fastapi import APIRouter, Request
from pydantic import ConfigDict, Field, field_validator

from backend.embeddings.long_input import embed_whole
from backend.embeddings.minilm import MODEL_NAME, MiniLmEmbedder
from backend.embeddings.names import OPENAI_ALIASES, answers_to
from backend.embeddings.openai_tokens import decode_openai_tokens
from backend.models.registry import UnknownModelError
from backend.server.routes.openai import services
from backend.server.schemas import RequestBody
from backend.wire import Embedding, EmbeddingList, EmbeddingUsage

if TYPE_CHECKING:
    import numpy as np

router = APIRouter()

MAX_INPUTS = 2048  # OpenAI's own limit on the texts of one request


class EmbeddingsBody(RequestBody):
    model_config = ConfigDict(extra="forbid")

    input: str | list[str] | list[int] | list[list[int]] = Field(
        description="A text or a list of texts (at most 2048), or OpenAI's token ids (of "
        "cl100k_base, as OpenAI's clients send them), which are turned back into their text. A "
        "text longer than the embedder's window is embedded whole: cut into windows whose "
        "vectors are averaged."
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
            if len(value) > MAX_INPUTS and not isinstance(value[0], int):
                raise ValueError(f"input holds {len(value)} texts; at most {MAX_INPUTS} are taken")
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
        """The texts to embed; token ids become the text they encode."""
        given = self.input
        if isinstance(given, str):
            return [given]
        if given and isinstance(given[0], int):
            return [decode_openai_tokens(cast(list[int], given), "input")]
        texts: list[str] = []
        for i, item in enumerate(given):
            text = decode_openai_tokens(item, f"input[{i}]") if isinstance(item, list) else item
            texts.append(cast(str, text))
        return texts


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
