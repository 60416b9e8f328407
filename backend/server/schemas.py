"""Request bodies of the API, following OpenAI's schema where the route is OpenAI's."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.llm.types import SamplingParams
from backend.wire import ConversationSettings

TokenId = Annotated[int, Field(ge=0)]
LogitBias = Annotated[float, Field(ge=-100.0, le=100.0, allow_inf_nan=False)]


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate_at(value: Any, where: str = "") -> str | None:
    """The dotted path of the first string in parsed JSON that holds a lone UTF-16 surrogate.

    JSON allows "\\ud800", but no text encoding can store it, so it would fail deep in a
    tokenizer or the database instead of here.
    """
    if isinstance(value, str):
        return None if _is_encodable(value) else where
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        shown = str(key).encode("utf-8", "backslashreplace").decode()  # a bad key is shown escaped
        place = f"{where}.{shown}" if where else shown
        found = lone_surrogate_at(key, place) or lone_surrogate_at(item, place)
        if found is not None:
            return found
    return None


class RequestBody(BaseModel):
    """A route's JSON body: text no encoding can store is refused, naming its field."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_lone_surrogates(cls, data: Any) -> Any:
        if (where := lone_surrogate_at(data)) is not None:
            raise ValueError(
                f"{where or 'the body'} holds a lone UTF-16 surrogate (like \\ud800), "
                "which is not valid text"
            )
        return data


class ImageUrl(BaseModel):
    url: str = Field(description="A base64 data URL or a local file path.")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None
    image_url: ImageUrl | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""

    def image_references(self) -> list[str]:
        if not isinstance(self.content, list):
            return []
        return [p.image_url.url for p in self.content if p.type == "image_url" and p.image_url]

    def as_prompt_message(self) -> dict[str, str]:
        role = "system" if self.role == "developer" else self.role
        return {"role": role, "content": self.text()}


class StreamOptions(BaseModel):
    include_usage: bool = False


class SamplingFields(RequestBody):
    """Sampling fields shared by chat and text completions."""

    model_config = ConfigDict(extra="ignore")
    model: str | None = Field(None, description="Model name; omitted means the default model.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    logit_bias: dict[TokenId, LogitBias] | None = Field(
        None, description="Token id to a bias from -100 (never) to 100 (always)."
    )
    n: int = Field(1, ge=1, le=1, description="Only one choice is supported.")

    def sampling(self) -> SamplingParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return SamplingParams(
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            stop=tuple(stop),
            logit_bias=tuple((self.logit_bias or {}).items()),
        )

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatCompletionBody(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    images: list[str] = Field(
        default_factory=list,
        description="Hearth's extension: image paths or data URLs for the last message.",
    )

    def image_references(self) -> list[str]:
        """Images of the last message: its image_url parts, then the `images` field."""
        return self.messages[-1].image_references() + self.images


class CompletionBody(SamplingFields):
    prompt: str | list[str]

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else "".join(self.prompt)


class NewConversation(RequestBody):
    title: str = "New chat"
    system_prompt: str | None = None
    model: str | None = None


class ConversationUpdate(RequestBody):
    title: str | None = None
    system_prompt: str | None = None
    model: str | None = None
    settings: ConversationSettings | None = None
    collections: list[str] = Field(
        default_factory=list, description="Document collections the chat answers from."
    )


class NewMessage(RequestBody):
    content: str = Field(min_length=1)
    images: list[str] = Field(
        default_factory=list, description="Image paths or base64 data URLs to attach."
    )
    stream: bool = True
    replace_from: int | None = Field(
        None, description="Delete this message and all after it first (edit or regenerate)."
    )


class ImportModel(RequestBody):
    path: str
    name: str | None = None
