"""Request bodies of the API, following OpenAI's schema where the route is OpenAI's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.errors import InvalidRequestError
from backend.images.attachments import refuse_remote_image
from backend.llm.context_window import EmptyPromptError
from backend.llm.grammar import json_object_grammar, json_schema_grammar
from backend.llm.tool_grammar import check_tools
from backend.llm.types import PromptMessage, SamplingParams, ToolSpec, ToolUse
from backend.server.field_policy import Refusal, only, refuse_unsupported, without_defaults
from backend.wire import ConversationSettings, ToolCall

TokenId = Annotated[int, Field(ge=0)]
LogitBias = Annotated[float, Field(ge=-100.0, le=100.0, allow_inf_nan=False)]


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate_at(value: Any, where: str = "") -> str | None:
    """Where the first string in parsed JSON that holds a lone UTF-16 surrogate is, as OpenAI
    names a field ("messages[0].content").

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
        if isinstance(key, int):  # a list's item
            place = f"{where}[{key}]"
        else:
            place = f"{where}.{shown}" if where else shown
        found = lone_surrogate_at(key, place) or lone_surrogate_at(item, place)
        if found is not None:
            return found
    return None


class UnencodableTextError(InvalidRequestError):
    """A string in the body holds a lone UTF-16 surrogate, which no text encoding can store."""

    code = "invalid_body"


class RequestBody(BaseModel):
    """A route's JSON body: an unknown field, or text no encoding can store, is refused, naming
    the field."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_lone_surrogates(cls, data: Any) -> Any:
        if (where := lone_surrogate_at(data)) is not None:
            raise UnencodableTextError(
                f"{where or 'the body'} holds a lone UTF-16 surrogate (like \\ud800), "
                "which is not valid text",
                param=where or None,
            )
        return data


class OpenAIBody(RequestBody):
    """The body of an OpenAI route. A null is the field's default, as OpenAI takes it. An
    OpenAI field Hearth does not implement is listed in `refused_fields` with the reason, and
    is a 400 naming it unless its value asks for nothing more (`n: 1`); any other unknown
    field is a 400 too, as OpenAI answers it. Never is a field accepted and dropped."""

    refused_fields: ClassVar[Mapping[str, Refusal]] = {}

    @model_validator(mode="before")
    @classmethod
    def _apply_field_policy(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = without_defaults(data, cls.model_fields)
        return refuse_unsupported(data, cls.model_fields, cls.refused_fields)


class OpenAIObject(BaseModel):
    """An object inside an OpenAI body: an unknown field is refused by name, and a null is the
    field's default, as in the body itself."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_defaults(cls, data: Any) -> Any:
        return without_defaults(data, cls.model_fields) if isinstance(data, dict) else data


class ImageUrl(OpenAIObject):
    url: str = Field(description="A base64 data URL or a local file path.")
    detail: Literal["auto", "low", "high"] | None = Field(
        None,
        description="Accepted, and the same for each: a vision model sees the image at its "
        "projector's resolution, CLIP at its own.",
    )


CONTENT_PART_TYPES = ("text", "image_url")


class UnsupportedContentPartError(InvalidRequestError):
    code = "unsupported_content_part"


class ContentPart(BaseModel):
    # Lenient here so that a part of a type Hearth does not take is refused by its type
    # (`refuse_unusable_parts`), which says more than its unknown key would.
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None
    image_url: ImageUrl | None = None


class ChatMessage(OpenAIObject):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCall] | None = Field(None, description="An assistant turn's calls.")
    tool_call_id: str | None = Field(None, description="A tool turn: the call it answers.")
    name: str | None = Field(
        None,
        description="A tool turn: the function that answered; on other turns (a participant's "
        "name) accepted and not shown to the model.",
    )
    # What OpenAI's own replies carry, so that clients replaying them into the history work.
    refusal: str | None = Field(
        None, description="An assistant turn that refused: its text, when content is empty."
    )
    annotations: list[dict[str, Any]] | None = Field(
        None, description="An assistant turn's citations from OpenAI's web search: accepted."
    )

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or self.refusal or ""

    def image_references(self) -> list[str]:
        if not isinstance(self.content, list):
            return []
        return [p.image_url.url for p in self.content if p.type == "image_url" and p.image_url]

    def refuse_unusable_parts(self, place: str) -> None:
        """Refuse, naming it, a part Hearth would have to drop, and an image on the web."""
        for j, part in enumerate(self.content if isinstance(self.content, list) else []):
            if part.type not in CONTENT_PART_TYPES:
                raise UnsupportedContentPartError(
                    f"{place}.content[{j}].type: '{part.type}' parts are not supported; send "
                    "'text' and 'image_url' parts",
                    param=f"{place}.content[{j}].type",
                )
            if unknown := next(iter(part.model_extra or {}), None):
                raise UnsupportedContentPartError(
                    f"Unrecognized request argument supplied: {place}.content[{j}].{unknown}",
                    param=f"{place}.content[{j}].{unknown}",
                )
            if part.type == "image_url":
                if part.image_url is None:
                    raise UnsupportedContentPartError(
                        f"{place}.content[{j}]: an image_url part needs image_url.url",
                        param=f"{place}.content[{j}].image_url",
                    )
                refuse_remote_image(part.image_url.url, f"{place}.content[{j}].image_url")

    def as_prompt_message(self) -> PromptMessage:
        role = "system" if self.role == "developer" else self.role
        message: PromptMessage = {"role": role, "content": self.text()}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
                for call in self.tool_calls
            ]
        if self.role == "tool":
            if self.tool_call_id is None:
                raise MissingToolCallIdError(
                    "a tool message needs the tool_call_id of the call it answers"
                )
            message["tool_call_id"] = self.tool_call_id
            if self.name:
                message["name"] = self.name
        return message


class MissingToolCallIdError(InvalidRequestError):
    code = "missing_tool_call_id"


class FunctionDefinition(OpenAIObject):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = Field(
        None, description="A JSON Schema; omitted means a call takes no arguments."
    )
    strict: bool | None = Field(
        None,
        description="A call forced by tool_choice always matches its schema; with strict, a "
        "call the model chose freely is returned as one only when it matches too.",
    )

    def spec(self) -> ToolSpec:
        parameters = self.parameters or {"type": "object", "properties": {}}
        return ToolSpec(self.name, self.description or "", parameters, bool(self.strict))


class ToolDefinition(OpenAIObject):
    type: Literal["function"]
    function: FunctionDefinition


class FunctionName(OpenAIObject):
    name: str


class NamedToolChoice(OpenAIObject):
    type: Literal["function"]
    function: FunctionName


class UnknownToolError(InvalidRequestError):
    code = "unknown_tool"


class StreamOptions(OpenAIObject):
    include_usage: bool = False
    include_obfuscation: bool | None = Field(
        None, description="Accepted; Hearth's chunks carry no padding to turn off."
    )


class SamplingFields(OpenAIBody):
    """Sampling fields shared by chat and text completions."""

    refused_fields: ClassVar[Mapping[str, Refusal]] = {
        "n": Refusal("Hearth generates one choice per request; send n=1", only(1)),
    }
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
    user: str | None = Field(
        None, description="OpenAI's end-user id: accepted, and it does not change the output."
    )
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    repeat_penalty: float = Field(
        1.0, gt=0.0, le=10.0, description="llama.cpp's repetition penalty; 1 is none."
    )
    top_k: int = Field(40, ge=0, description="llama.cpp's top-k; 0 keeps every token.")
    min_p: float = Field(0.05, ge=0.0, le=1.0, description="llama.cpp's min-p.")

    def sampling(self) -> SamplingParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return SamplingParams(
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            stop=tuple(stop),
            logit_bias=tuple((self.logit_bias or {}).items()),
            top_k=self.top_k,
            min_p=self.min_p,
            repeat_penalty=self.repeat_penalty,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
        )

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class JsonSchemaFormat(OpenAIObject):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(
        None, alias="schema", description="The JSON Schema the reply must match."
    )
    strict: bool | None = Field(
        None, description="Accepted: Hearth's grammar enforces the schema either way."
    )


class ResponseFormat(OpenAIObject):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    def grammar(self) -> str | None:
        """The grammar that keeps the reply in this format, or None for free text."""
        if self.type == "text":
            return None
        if self.type == "json_object":
            return json_object_grammar()
        if self.json_schema is None:
            raise MissingJsonSchemaError(
                "response_format.json_schema is required when its type is 'json_schema'"
            )
        if self.json_schema.json_schema is None:
            return json_object_grammar()
        return json_schema_grammar(self.json_schema.json_schema)


class MissingJsonSchemaError(InvalidRequestError):
    code = "missing_json_schema"


class TopLogprobsWithoutLogprobsError(InvalidRequestError):
    code = "invalid_top_logprobs"


class ChatCompletionBody(SamplingFields):
    refused_fields: ClassVar[Mapping[str, Refusal]] = {
        **SamplingFields.refused_fields,
        "modalities": Refusal("Hearth answers in text only", only(["text"])),
        "audio": Refusal("Hearth answers in text only, without audio"),
        "web_search_options": Refusal("Hearth is offline and never searches the web"),
        "functions": Refusal("the deprecated functions are not taken; send them as tools"),
        "function_call": Refusal("the deprecated function_call is not taken; use tool_choice"),
        "reasoning_effort": Refusal("Hearth has no control over a model's reasoning"),
        "verbosity": Refusal("Hearth has no control over a reply's verbosity"),
    }
    messages: list[ChatMessage] = Field(min_length=1)
    # OpenAI's fields that do not change the reply: accepted, so clients that send them work.
    metadata: dict[str, str] | None = Field(None, description="Accepted; Hearth stores nothing.")
    store: bool | None = Field(None, description="Accepted; Hearth stores no completions.")
    service_tier: str | None = Field(None, description="Accepted; there is one tier.")
    prompt_cache_key: str | None = Field(None, description="Accepted; no effect on the reply.")
    safety_identifier: str | None = Field(None, description="Accepted; no effect on the reply.")
    prediction: dict[str, Any] | None = Field(
        None, description="Accepted; predicted outputs only speed OpenAI up, never change a reply."
    )
    response_format: ResponseFormat | None = None
    tools: list[ToolDefinition] | None = Field(None, description="Functions the model may call.")
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = Field(
        None, description='"auto" when tools are given; "required" or a named one is forced.'
    )
    parallel_tool_calls: bool | None = Field(
        None,
        description="Several calls in one reply; unset: a forced reply holds one call, and every "
        "call a free one holds is returned.",
    )
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    images: list[str] = Field(
        default_factory=list,
        description="Hearth's extension: image paths or data URLs for the last message.",
    )

    def sampling(self) -> SamplingParams:
        if self.top_logprobs and not self.logprobs:
            raise TopLogprobsWithoutLogprobsError("top_logprobs needs logprobs set to true")
        grammar = self.response_format.grammar() if self.response_format else None
        return replace(
            super().sampling(),
            grammar=grammar,
            logprobs=self.logprobs,
            top_logprobs=self.top_logprobs or 0,
        )

    def tool_use(self) -> ToolUse | None:
        """The functions offered and how the reply must use them; None when there are none or
        tool_choice is "none" (they are hidden from the model)."""
        choice = self.tool_choice or "auto"
        if not self.tools and choice not in ("none", "auto"):
            raise UnknownToolError(
                "tool_choice asks for a function call, but no tools are given", param="tool_choice"
            )
        if not self.tools or choice == "none":
            return None
        specs = tuple(tool.function.spec() for tool in self.tools)
        named = choice.function.name if isinstance(choice, NamedToolChoice) else None
        if named is not None and named not in {spec.name for spec in specs}:
            raise UnknownToolError(
                f"tool_choice names the function '{named}', which is not in tools",
                param="tool_choice.function.name",
            )
        check_tools(specs)
        required = choice == "required" or named is not None
        return ToolUse(specs, required, named, self.parallel_tool_calls)

    def image_references(self) -> list[str]:
        """Images of the last message: its image_url parts, then the `images` field. A web
        address or a part of another type in any message is refused first, naming where."""
        self._refuse_unusable_parts()
        return self.messages[-1].image_references() + self.images

    def earlier_image_references(self) -> list[list[str]]:
        """The images of each message before the last, in order."""
        return [message.image_references() for message in self.messages[:-1]]

    def _refuse_unusable_parts(self) -> None:
        for i, message in enumerate(self.messages):
            message.refuse_unusable_parts(f"messages[{i}]")
        for k, url in enumerate(self.images):
            refuse_remote_image(url, f"images[{k}]")


class CompletionBody(SamplingFields):
    refused_fields: ClassVar[Mapping[str, Refusal]] = {
        **SamplingFields.refused_fields,
        "best_of": Refusal("Hearth generates one choice per prompt; send best_of=1", only(1)),
        "echo": Refusal("the prompt is not repeated before the completion", only(False)),
        "suffix": Refusal("Hearth does not fill in text before a suffix", only("")),
    }
    prompt: str | list[str] | list[TokenId] | list[list[TokenId]] = Field(
        description="A text, a list of texts, the model's token ids, or a list of token-id "
        "lists: one choice per prompt, in order. Token ids go to the model as they are."
    )
    logprobs: int | None = Field(
        None, ge=0, le=20, description="Log-probabilities of each token and this many likeliest."
    )

    def sampling(self) -> SamplingParams:
        wanted = self.logprobs is not None
        return replace(super().sampling(), logprobs=wanted, top_logprobs=self.logprobs or 0)

    def prompts(self) -> list[str | tuple[int, ...]]:
        """One prompt per choice: a text, or token ids."""
        prompt = self.prompt
        if isinstance(prompt, str):
            return [prompt]
        if not prompt:
            raise EmptyPromptError("prompt is an empty list; give at least one", param="prompt")
        if isinstance(prompt[0], int):  # one prompt of token ids
            return [tuple(cast(list[int], prompt))]
        return [p if isinstance(p, str) else tuple(p) for p in cast(list[str | list[int]], prompt)]


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


class ShownVersion(RequestBody):
    version: int = Field(ge=1, description="Which version to show: 1 is the oldest.")


class ImportModel(RequestBody):
    path: str
    name: str | None = None
