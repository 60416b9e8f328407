"""What a generation is asked for and what it reports, shared by every chat provider."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Required, TypedDict

from backend import wire


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int | None = None
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, bias), as OpenAI's field
    # llama.cpp's defaults where OpenAI has no such field
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    grammar: str | None = None  # GBNF that every sampled token must keep the reply within
    logprobs: bool = False  # report each token's log-probability
    top_logprobs: int = 0  # and this many most likely alternatives at each position
    # End a reply that loops (finish reason "repetition"): Hearth's own chats only, since
    # OpenAI has no such finish reason.
    stop_repetition: bool = False


@dataclass(frozen=True)
class ResolvedModel:
    """A model the provider checked it can run, and how it takes images."""

    name: str
    vision: bool = False  # takes pixels (a vision projector), rather than CLIP's labels


class FunctionCallRecord(TypedDict):
    name: str
    arguments: str  # JSON text, as OpenAI sends it


class ToolCallRecord(TypedDict):
    """A call an earlier assistant turn made, in OpenAI's shape."""

    id: str
    type: Literal["function"]
    function: FunctionCallRecord


class PromptMessage(TypedDict, total=False):
    """One message of a prompt, in the shape chat templates (and OpenAI servers) take."""

    role: Required[str]  # "system", "user", "assistant" or "tool"
    content: Required[str]
    tool_calls: list[ToolCallRecord]  # an assistant turn that called functions
    tool_call_id: str  # a tool turn: the call it answers
    name: str  # a tool turn: the function that answered


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call: OpenAI's `tools[].function`."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})  # JSON Schema
    strict: bool = False  # a call returned as one always matches `parameters`

    def as_openai(self) -> dict[str, Any]:
        """The `{"type": "function", "function": ...}` form chat templates receive."""
        function = {"name": self.name, "description": self.description}
        return {"type": "function", "function": function | {"parameters": self.parameters}}


@dataclass(frozen=True)
class ToolUse:
    """The functions a chat request offers, and whether (and which) the model must call."""

    tools: tuple[ToolSpec, ...]
    required: bool = False  # some function must be called ("required" or a named one)
    function: str | None = None  # this one must be called
    parallel: bool | None = None  # several calls in one reply; None: as the format allows

    @property
    def forced(self) -> tuple[ToolSpec, ...]:
        """The functions a forced reply chooses from; empty when the model may answer freely."""
        if self.function is not None:
            return tuple(tool for tool in self.tools if tool.name == self.function)
        return self.tools if self.required else ()


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[PromptMessage]
    params: SamplingParams = field(default_factory=SamplingParams)
    # Encoded images the model sees with the last message; only for a model that can see.
    images: tuple[bytes, ...] = ()
    tool_use: ToolUse | None = None  # None: no functions offered (or hidden by "none")
    # Whether the oldest turns may be left out to fit the context window; False: refuse instead.
    drop_old_turns: bool = True


@dataclass(frozen=True)
class CompletionRequest:
    model: str
    prompt: str | tuple[int, ...]  # text, or the model's own token ids as they are
    params: SamplingParams = field(default_factory=SamplingParams)


@dataclass(frozen=True)
class TokenLogprob:
    """One sampled token's log-probability under the model, and the likeliest alternatives."""

    token: bytes
    logprob: float
    top: tuple[tuple[bytes, float], ...] = ()


@dataclass(frozen=True)
class Token:
    text: str
    # The model tokens whose bytes this text holds (when asked for); a multi-byte character
    # split over tokens, or text held back for a stop string, arrives with the later token.
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class Timings:
    prompt_tokens: int
    completion_tokens: int
    prompt_ms: float
    generation_ms: float

    @property
    def prompt_per_second(self) -> float:
        return self.prompt_tokens / (self.prompt_ms / 1000) if self.prompt_ms > 0 else 0.0

    @property
    def generation_per_second(self) -> float:
        # The first token's time belongs to prompt processing.
        decoded = max(0, self.completion_tokens - 1)
        return decoded / (self.generation_ms / 1000) if self.generation_ms > 0 else 0.0

    def to_wire(self) -> wire.Timings:
        """Counts, and times and speeds rounded to what a reader can use."""
        return wire.Timings(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            prompt_ms=round(self.prompt_ms, 2),
            generation_ms=round(self.generation_ms, 2),
            prompt_per_second=round(self.prompt_per_second, 2),
            generation_per_second=round(self.generation_per_second, 2),
        )


@dataclass(frozen=True)
class Finished:
    """The last event of every generation."""

    finish_reason: str  # "stop", "length", "cancelled" or "repetition" (a loop was cut)
    timings: Timings
    model: str
    dropped_messages: int = 0  # oldest turns left out to fit the context window
    context_size: int = 0

    def report(self) -> wire.GenerationReport:
        """One flat record: how it ended, how fast, and what was left out."""
        return wire.GenerationReport(
            model=self.model,
            finish_reason=self.finish_reason,
            dropped_messages=self.dropped_messages,
            context_size=self.context_size,
            **self.timings.to_wire().model_dump(),
        )


@dataclass(frozen=True)
class Stage:
    """What a generation is doing before its first token: loading its model, or reading its
    prompt (`done` of `total` tokens, reported after each batch llama.cpp evaluates); then
    `writing`. Only a conversation's stream passes these on."""

    name: Literal["loading", "reading", "writing"]
    model: str = ""
    done: int = 0
    total: int = 0


Event = Token | Finished
ProviderEvent = Event | Stage
EventSink = Callable[[ProviderEvent], None]


class ChatProvider(Protocol):
    """Something that generates text: llama.cpp in process, or a remote server."""

    def start_chat(
        self, request: ChatRequest, sink: EventSink, cancel: threading.Event
    ) -> Future[None]: ...

    def start_completion(
        self, request: CompletionRequest, sink: EventSink, cancel: threading.Event
    ) -> Future[None]: ...

    def check_model(self, name: str) -> ResolvedModel:
        """Resolve and validate `name` before any streaming starts, in one look-up."""
        ...

    def close(self) -> None: ...
