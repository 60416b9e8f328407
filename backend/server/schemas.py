"""Request bodies of the API, following OpenAI's schema where the route is OpenAI's."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.llm.types import SamplingParams


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


class SamplingFields(BaseModel):
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
    logit_bias: dict[int, float] | None = Field(
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


class NewConversation(BaseModel):
    title: str = "New chat"
    system_prompt: str | None = None
    model: str | None = None


class ConversationUpdate(BaseModel):
    title: str | None = None
    system_prompt: str | None = None
    model: str | None = None
    settings: dict[str, Any] | None = None
    collections: list[str] = Field(
        default_factory=list, description="Document collections the chat answers from."
    )


class NewMessage(BaseModel):
    content: str = Field(min_length=1)
    images: list[str] = Field(
        default_factory=list, description="Image paths or base64 data URLs to attach."
    )
    stream: bool = True
    replace_from: int | None = Field(
        None, description="Delete this message and all after it first (edit or regenerate)."
    )


class ImportModel(BaseModel):
    path: str
    name: str | None = None
