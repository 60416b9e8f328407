"""What crosses the process boundary: the API's typed records and the events its streams carry.

The backend builds these, the desktop and the CLI read them, and `backend.sse` carries stream
events over HTTP. The JSON keys are the API's contract: rename a field here and every client
breaks, so they stay as the API has always spelled them (`path` and `snippet` for a source).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Role = Literal["system", "user", "assistant"]
# "generating": a reply still streaming, stored as it goes so a crash cannot lose it.
MessageStatus = Literal["complete", "interrupted", "error", "generating"]


class Source(BaseModel):
    """One passage an answer from documents was given, numbered as the prompt cites it."""

    n: int = Field(description="The number the answer cites it by, as [n].")
    collection: str
    path: str = Field(description="Absolute path of the file.")
    page: int | None = Field(None, description="1-based page, for paged documents.")
    start_line: int | None = Field(None, description="1-based first line in the file or page.")
    end_line: int | None = None
    char_start: int | None = Field(None, description="Span in the extracted text, when no lines.")
    char_end: int | None = None
    headings: list[str] = Field(default_factory=list, description="Section path of the passage.")
    snippet: str = Field(description="The passage's text, as the model read it.")
    ocr: bool = Field(False, description="The passage was read by OCR from a scan or a picture.")
    score: float = Field(description="Ranking score (higher is better).")
    similarity: float | None = Field(None, description="Cosine similarity to the question.")
    relevance: float | None = Field(
        None, description="The reranker's 0-1 judgement that it answers the question."
    )

    def label(self) -> str:
        """Where to check it: 'path, page 2, lines 3-5'."""
        return place_label(self.path, self.page, self.start_line, self.end_line)


def place_label(path: str, page: int | None, start_line: int | None, end_line: int | None) -> str:
    """Where a passage can be checked: 'path, page 2, lines 3-5'."""
    parts = [path]
    if page is not None:
        parts.append(f"page {page}")
    if start_line is not None:
        parts.append(f"lines {start_line}-{end_line}")
    return ", ".join(parts)


FileStatus = Literal["pending", "indexed", "failed"]


class FileRecord(BaseModel):
    """What Hearth last did with one file of a collection."""

    path: str = Field(description="Absolute path.")
    content_hash: str = Field(description="sha256 of the file's bytes.")
    size: int
    mtime_ns: int
    status: FileStatus
    error: str | None = Field(None, description="Why the file could not be indexed.")
    chunks: int = 0


class CollectionInfo(BaseModel):
    """A document collection: its folders and files, and how many chunks they gave."""

    name: str
    created_at: float
    roots: list[str] = Field(description="Files and folders the collection reads (absolute).")
    revision: int = Field(description="Increases whenever the collection's chunks change.")
    ocr: bool = Field(True, description="Scanned pages and pictures of text are read by OCR.")
    files: int = 0
    failed: int = 0
    chunks: int = 0


class CollectionDetail(BaseModel):
    """A collection with every file it reads."""

    collection: CollectionInfo
    files: list[FileRecord]


class PassageContext(BaseModel):
    """A cited passage with the text around it in its file: the chunks before and after it,
    their overlap with the passage left out, so the three read on as one text."""

    found: bool = Field(description="False when the passage is no longer indexed as it was.")
    before: str = ""
    passage: str = ""
    after: str = ""


class DocumentText(BaseModel):
    """A document's indexed text (its chunks joined), for a quick action on the document."""

    path: str
    text: str = Field(description="From the start, at most the characters asked for.")
    complete: bool = Field(description="False when the document goes on past `text`.")


class ImageLabel(BaseModel):
    """One of CLIP's zero-shot guesses for an image."""

    label: str
    score: float = Field(description="Probability among the labels tried, 0 to 1.")


class ImageTextLine(BaseModel):
    """One line of text read in an image (OCR)."""

    text: str
    box: list[tuple[float, float]] = Field(description="Its four corners, in image pixels.")
    confidence: float = Field(description="The recogniser's confidence, 0 to 1.")


class ImageReading(BaseModel):
    """What an image likely shows (CLIP's labels) and the text read in it."""

    labels: list[ImageLabel]
    text: str = Field(description="The lines read, in reading order, one a line; or empty.")
    lines: list[ImageTextLine]


class ImageHit(BaseModel):
    """An indexed image that matches a search."""

    path: str
    score: float = Field(description="Cosine similarity to the query (CLIP); 1 is identical.")
    text: str | None = Field(
        None, description="The text read in the image, when the search's words are in it."
    )


class IndexedFolder(BaseModel):
    """A folder some image model indexed."""

    folder: str
    models: list[str] = Field(description="The image models that indexed it.")
    needs_reindex: bool = Field(
        description="Indexed, but not with the current image model: search will not find its "
        "images until it is indexed again."
    )


class IndexedFolderRemoved(BaseModel):
    """A folder forgotten by image search (its files stay where they are)."""

    folder: str
    images: int = Field(description="The pictures the current image model had indexed in it.")


class Attachment(BaseModel):
    """One image attached to a message, as stored, and what the labeller made of it."""

    path: str = Field(description="The stored copy under HEARTH_HOME/attachments.")
    name: str = Field(description="The file's name as the user gave it.")
    labels: list[ImageLabel]
    text: str = Field("", description="The text read in the image (OCR); empty when none.")
    vision_note: str | None = Field(
        None,
        description="Set when the model that answered could not see the image: it was given "
        "the labels and the read text instead, so what it said is inferred from them.",
    )


class Timings(BaseModel):
    """Token counts and speeds of one generation."""

    prompt_tokens: int
    completion_tokens: int
    prompt_ms: float
    generation_ms: float
    prompt_per_second: float
    generation_per_second: float


class GenerationReport(Timings):
    """How one generation ended, how fast it ran and what was left out to fit the context."""

    model: str
    finish_reason: str = Field(
        description='"stop", "length", "cancelled" or "repetition" (the reply was looping).'
    )
    dropped_messages: int = Field(0, description="Oldest turns left out to fit the context.")
    context_size: int = 0


def _unset(value: object) -> bool:
    return value is None


class ConversationSettings(BaseModel):
    """A chat's own sampling settings, within the bounds the chat API takes; unset ones keep
    the defaults and are left out of the JSON."""

    # Clients read `settings.get("temperature", default)`: a null would not be the default.
    model_config = ConfigDict(extra="forbid")
    max_tokens: int | None = Field(
        None, ge=0, exclude_if=_unset, description="Longest reply; 0: no limit."
    )
    temperature: float | None = Field(None, ge=0.0, le=2.0, exclude_if=_unset)
    top_p: float | None = Field(None, gt=0.0, le=1.0, exclude_if=_unset)
    seed: int | None = Field(None, exclude_if=_unset)
    repeat_penalty: float | None = Field(None, gt=0.0, le=10.0, exclude_if=_unset)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0, exclude_if=_unset)
    think_step_by_step: bool | None = Field(
        None,
        exclude_if=_unset,
        description="Ask a model that does not reason on its own to think step by step first.",
    )


class Conversation(BaseModel):
    """One chat: its title and the settings its replies are generated with."""

    id: str = Field(description="Random hex id.")
    title: str
    created_at: float = Field(description="Unix seconds.")
    updated_at: float = Field(description="Unix seconds of the last change or message.")
    system_prompt: str | None = None
    model: str | None = Field(None, description="Chat model; None means the default model.")
    settings: ConversationSettings = Field(
        default_factory=ConversationSettings, description="Sampling settings."
    )
    collections: list[str] = Field(
        default_factory=list, description="Document collections the chat answers from."
    )


class ReplyVersion(BaseModel):
    """Another answer to the same question: regenerating keeps the replies it replaces."""

    content: str
    model: str | None = None
    created_at: float
    status: MessageStatus = "complete"
    timings: GenerationReport | None = None
    sources: list[Source] = Field(default_factory=list)


class Message(BaseModel):
    """One message of a conversation; a reply is stored as it starts (`generating`) and kept
    complete, interrupted or failed."""

    id: int = Field(description="Increases with each message, across all conversations.")
    conversation_id: str
    role: Role
    content: str
    model: str | None = Field(None, description="Model that wrote an assistant message.")
    created_at: float = Field(description="Unix seconds.")
    status: MessageStatus = "complete"
    timings: GenerationReport | None = Field(
        None, description="Token counts and speeds of the generation, when known."
    )
    attachments: list[Attachment] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list, description="Cited document passages.")
    versions: list[ReplyVersion] = Field(
        default_factory=list,
        description="A reply's other versions (regenerated), oldest first; this one shows.",
    )

    def as_version(self) -> ReplyVersion:
        return ReplyVersion(
            content=self.content,
            model=self.model,
            created_at=self.created_at,
            status=self.status,
            timings=self.timings,
            sources=self.sources,
        )

    def all_versions(self) -> list[ReplyVersion]:
        """Every version, this one included, oldest first: `< 2/3 >` counts in this order."""
        return sorted([*self.versions, self.as_version()], key=lambda v: v.created_at)


class ConversationDetail(BaseModel):
    """A conversation with its messages, oldest first."""

    conversation: Conversation
    messages: list[Message]


class Health(BaseModel):
    """The backend is serving, and which version it is."""

    status: Literal["ok"]
    version: str


class EngineStatus(BaseModel):
    """Busy or idle, and how the last generations ended (speeds included)."""

    active_generations: int
    recent: list[GenerationReport] = Field(description="The last 20, oldest first.")


class MemoryFit(BaseModel):
    """Whether a model fits the memory available, at the context it would run with."""

    context: int
    weights_bytes: int
    kv_cache_bytes: int
    total_bytes: int
    available_bytes: int
    fits: bool


# shipped, the models folder (user), imported, model_folders (folder), or the app it came from
ModelSource = Literal[
    "shipped",
    "user",
    "imported",
    "downloaded",
    "folder",
    "lmstudio",
    "ollama",
    "gpt4all",
    "jan",
    "huggingface",
    "llama.cpp",
]


class ModelSettings(BaseModel):
    """One model's own load settings; a field left unset (null) uses the global setting."""

    model_config = ConfigDict(extra="forbid")

    context_size: int | None = Field(
        None,
        ge=256,
        le=1 << 20,
        description="Context window in tokens (default: the global context_size); at most what "
        "the model was trained for.",
    )
    gpu_layers: int | None = Field(
        None,
        ge=-1,
        description="Layers llama.cpp offloads to the GPU, -1 for all (default 0); used only "
        "when llama.cpp was built with a GPU backend (CUDA, Metal, Vulkan).",
    )
    threads: int | None = Field(
        None, ge=1, description="CPU threads for this model (default: the global threads)."
    )


class ModelDescription(BaseModel):
    """A model Hearth can run: the GGUF's metadata, where it came from and its memory needs."""

    name: str
    source: ModelSource = Field(
        description="Where it was found: shipped, the models folder (user), imported, downloaded "
        "(by Hearth, from Hugging Face), one of "
        "model_folders (folder), or the app that downloaded it (lmstudio, ollama, ...)."
    )
    path: str
    general_name: str = Field(description="The name written inside the file.")
    architecture: str
    parameter_count: int
    quantization: str
    context_length: int
    chat_template: str | None
    file_size: int
    block_count: int
    embedding_length: int
    head_count: int
    head_count_kv: int
    expert_count: int
    general_type: str = Field(description='"model", or "adapter" for a LoRA GGUF.')
    vision: bool
    mmproj: str | None = Field(None, description="The vision projector beside the model.")
    vision_note: str | None = Field(
        None, exclude_if=_unset, description="Why the model cannot see images."
    )
    adapter: str | None = Field(
        None, exclude_if=_unset, description="The LoRA adapter applied at load."
    )
    repo: str | None = Field(
        None, exclude_if=_unset, description="The Hugging Face repo Hearth downloaded it from."
    )
    settings: ModelSettings = Field(
        default_factory=ModelSettings, description="This model's own load settings."
    )
    memory: MemoryFit


class Exchange(BaseModel):
    """A question and its stored reply: a conversation's answer when it is not streamed."""

    user: Message
    assistant: Message


# OpenAI's response shapes (/v1/...), with Hearth's `hearth` extension field.


class HearthReport(BaseModel):
    """Hearth's extra field on a completion: speeds, turns dropped to fit the context, and what
    became of attached images."""

    finish_reason: str = Field(description='"stop", "length" or "cancelled".')
    timings: Timings
    dropped_messages: int
    context_size: int
    attachments: list[Attachment] | None = Field(None, exclude_if=_unset)
    vision: bool | None = Field(
        None, exclude_if=_unset, description="Whether the model saw the images' pixels."
    )
    vision_note: str | None = Field(None, exclude_if=_unset)
    earlier_attachments: list[Attachment] | None = Field(
        None,
        exclude_if=_unset,
        description="Images of the messages before the last: the model read their CLIP labels "
        "in those messages' text, never their pixels.",
    )


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class OpenAIChunk(BaseModel):
    """What every completion and chunk starts with; the last chunk carries `hearth`, and with
    `stream_options.include_usage` one more carries `usage`."""

    id: str
    object: str
    created: int = Field(description="Unix seconds.")
    model: str
    usage: Usage | None = Field(None, exclude_if=_unset)
    hearth: HearthReport | None = Field(None, exclude_if=_unset)


class FunctionCall(BaseModel):
    name: str
    arguments: str = Field(description="The arguments as JSON text.")


class ToolCall(BaseModel):
    """A function call the model made, in OpenAI's shape."""

    id: str = Field(description="call_<hex>; a tool message answers it by this id.")
    type: Literal["function"] = "function"
    function: FunctionCall


class FunctionCallDelta(BaseModel):
    name: str | None = Field(None, exclude_if=_unset)
    arguments: str = ""


class ToolCallDelta(BaseModel):
    """Part of a streamed call: the first carries its id, type and name, later ones arguments."""

    index: int
    id: str | None = Field(None, exclude_if=_unset)
    type: Literal["function"] | None = Field(None, exclude_if=_unset)
    function: FunctionCallDelta


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = Field(None, exclude_if=_unset)
    content: str | None = Field(None, exclude_if=_unset)
    tool_calls: list[ToolCallDelta] | None = Field(None, exclude_if=_unset)


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int]


class TokenLogprobInfo(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(BaseModel):
    """A chat choice's `logprobs`: one entry per generated token."""

    content: list[TokenLogprobInfo]
    refusal: None = None


class TextLogprobs(BaseModel):
    """A text completion's `logprobs`, in the legacy completions shape."""

    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]]
    text_offset: list[int]


class ChatChunkChoice(BaseModel):
    index: int = 0
    delta: ChatDelta
    logprobs: ChoiceLogprobs | None = None
    finish_reason: str | None


class ChatCompletionChunk(OpenAIChunk):
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    choices: list[ChatChunkChoice]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = Field(description="null when the reply is only function calls.")
    tool_calls: list[ToolCall] | None = Field(None, exclude_if=_unset)


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: str


class ChatCompletion(OpenAIChunk):
    object: Literal["chat.completion"] = "chat.completion"
    choices: list[ChatChoice]


class TextChoice(BaseModel):
    index: int = 0
    text: str
    logprobs: TextLogprobs | None = None
    finish_reason: str | None


class TextCompletion(OpenAIChunk):
    """A text completion, whole or as one chunk of a stream."""

    object: Literal["text_completion"] = "text_completion"
    choices: list[TextChoice]


class ModelObject(BaseModel):
    """One model in OpenAI's shape, plus whether it sees images."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = Field(
        description='Where it came from, as a model description\'s source: "shipped", "user", '
        '"imported", or the app that downloaded it ("ollama", "lmstudio", ...).'
    )
    vision: bool
    vision_note: str | None = Field(None, exclude_if=_unset)


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(
        description="The vector, or with encoding_format=base64 its little-endian float32 bytes."
    )


class EmbeddingUsage(BaseModel):
    prompt_tokens: int = Field(
        description="Word pieces of the input, every one embedded: a long text is pooled, not cut."
    )
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    model: str = Field(
        description="The model that made the vectors, also when the request named an alias."
    )
    data: list[Embedding]
    usage: EmbeddingUsage


# Downloads from Hugging Face, and the catalog of models worth downloading.


class HubChoice(BaseModel):
    """One model a Hub repo offers: a GGUF file, or every shard of a split one."""

    file: str = Field(description="The file, or a split model's first shard, as --file takes it.")
    files: list[str]
    size: int = Field(description="Bytes, all shards together.")
    quantization: str = Field(description='As the file name says it, like "Q4_K_M"; or "".')


class HubRepo(BaseModel):
    """A Hub repo's GGUF models at its current commit, and the projector a download brings."""

    repo: str
    revision: str = Field(description="The commit the files would be fetched from.")
    choices: list[HubChoice]
    projector: str | None = Field(None, description="The mmproj file that comes with a model.")


class HubSearchHit(BaseModel):
    """A GGUF repo a search of the Hub found."""

    repo: str
    downloads: int = Field(description="Downloads in the last 30 days, as the Hub counts them.")
    likes: int


DownloadState = Literal["queued", "downloading", "verifying", "finished", "failed", "cancelled"]


class DownloadStatus(BaseModel):
    """One download the backend runs: what it fetches and how far it has got."""

    id: str
    repo: str
    revision: str
    files: list[str] = Field(description="The model's files (shards in order), then its mmproj.")
    state: DownloadState
    bytes_done: int = Field(description="Bytes on disk, those resumed from an earlier run too.")
    bytes_total: int
    rate: float = Field(0.0, description="Bytes per second fetched in this run.")
    eta_seconds: float | None = Field(None, description="Unknown until bytes arrive.")
    current_file: str = ""
    model: str | None = Field(None, description="The model's name once it is installed.")
    error: str | None = Field(None, description="Why it failed.")


class DownloadEvent(DownloadStatus):
    """A download's status, sent when it changes (progress at most ten times a second)."""

    type: Literal["download"] = "download"


FitBadge = Literal["runs well", "tight", "too big"]


class CatalogModel(BaseModel):
    """One entry of the curated catalog (models/catalog.json): a well-known GGUF repo."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="Short name; `hearth models download ID` fetches it.")
    title: str
    repo: str
    file: str = Field(description="The GGUF file of the recommended quantization.")
    quantization: str
    size_bytes: int = Field(description="Approximate; not verified online.")
    mmproj: str | None = Field(None, description="The vision projector that comes with it.")
    mmproj_size_bytes: int = 0
    license: str
    good_for: str
    min_ram_bytes: int = Field(description="RAM it needs at a 4096-token context, roughly.")
    kind: Literal["chat", "clip"] = "chat"

    @property
    def vision(self) -> bool:
        return self.mmproj is not None


class CatalogFit(BaseModel):
    """How a catalog model would run on this machine."""

    badge: FitBadge
    min_ram_bytes: int
    available_bytes: int


class CatalogEntry(BaseModel):
    model: CatalogModel
    vision: bool = Field(description="Whether it sees images (it has an mmproj).")
    fit: CatalogFit


# Stream events: every progress stream is a sequence of these, told apart by `type`.


class UserEvent(BaseModel):
    """The user's message of a chat turn, as stored."""

    type: Literal["user"] = "user"
    message: Message


class TokenEvent(BaseModel):
    """A piece of the reply's text."""

    type: Literal["token"] = "token"
    text: str


class DoneEvent(BaseModel):
    """The reply as stored: complete, interrupted or failed."""

    type: Literal["done"] = "done"
    message: Message


class ErrorEvent(BaseModel):
    """What went wrong, in the API's error terms; `type` names the event, so the OpenAI error
    type travels as `error_type`."""

    type: Literal["error"] = "error"
    message: str
    code: str
    error_type: str


class QueuedEvent(BaseModel):
    """The first event of a reply that waits for the model: how many generations are ahead."""

    type: Literal["queued"] = "queued"
    ahead: int = Field(description="Generations before this one, the running one included.")


StageName = Literal["searching", "loading", "reading", "writing"]


class StageEvent(BaseModel):
    """What a conversation's reply is doing before its first token, in order: searching the
    chat's documents, loading its model, reading its prompt (after each batch), writing."""

    type: Literal["stage"] = "stage"
    stage: StageName
    model: str | None = Field(None, description="The model being loaded (stage 'loading').")
    done: int = Field(0, description="Prompt tokens read so far (stage 'reading').")
    total: int = Field(0, description="The prompt's tokens (stage 'reading').")

    def label(self) -> str:
        """The stage as the app shows it."""
        match self.stage:
            case "searching":
                return "Searching documents…"
            case "loading":
                return f"Loading model {self.model}…"
            case "reading":
                return f"Reading the prompt, {self.done:,} of {self.total:,} tokens…"
        return "Writing…"


ChatEvent = QueuedEvent | StageEvent | UserEvent | TokenEvent | DoneEvent | ErrorEvent

IngestStep = Literal[
    "planned",
    "indexed",
    "unchanged",
    "failed",
    "skipped",
    "removed",
    "no_text",  # a picture in which OCR found no text: left out quietly, not a failure
    "page",  # OCR read one more page of the file being indexed (pages_done of pages_total)
    "searchable",  # phase one done: every file's chunks stored, BM25 finds them
    "embedded",  # phase two: one more batch of chunks has its vectors
    "finished",
]
IngestPhase = Literal["parse", "embed"]  # chunks stored for BM25, then vectors filled in
FILE_STEPS: frozenset[IngestStep] = frozenset(
    {"indexed", "unchanged", "failed", "skipped", "removed", "no_text"}
)  # the steps that end one file; "planned" and "finished" frame the run


class IngestEvent(BaseModel):
    """Progress of indexing a document collection: `planned`, one event per file, `searchable`
    (BM25 finds every chunk), `embedded` after each batch of vectors, then `finished`."""

    type: IngestStep
    collection: str
    path: str | None = None
    detail: str | None = Field(None, description="Why a file failed, was skipped or removed.")
    chunks: int = Field(0, description="Chunks of this file.")
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = Field(0, description="Chunks written in this run so far.")
    phase: IngestPhase = Field("parse", description="Storing chunks, or embedding them.")
    chunks_embedded: int = Field(0, description="Chunks given their vector in this run so far.")
    chunks_to_embed: int = Field(0, description="Chunks waiting for a vector as phase two began.")
    pages_done: int = Field(0, description="Pages of this file read by OCR so far ('page').")
    pages_total: int = Field(0, description="Pages of this file that need OCR ('page').")


class ImageIndexEvent(BaseModel):
    """Progress of indexing a folder of images, after each batch; `image_finished` carries the
    totals of a run that reached the end."""

    type: Literal["image_progress", "image_finished"] = "image_progress"
    done: int
    total: int
    current: str = Field("", description="The image just read.")
    embedded: int = 0
    skipped: int = Field(0, description="Unchanged since they were indexed.")
    removed: int = Field(0, description="Gone from the folder, so forgotten.")
    with_text: int = Field(0, description="Embedded images in which text was read (OCR).")
    failures: dict[str, str] = Field(
        default_factory=dict, description="Path to why the image could not be read."
    )


# Every stream's events, told apart by `type`: a new stream adds its union here.
StreamEvent = Annotated[
    ChatEvent | IngestEvent | ImageIndexEvent | DownloadEvent, Field(discriminator="type")
]

_STREAM_EVENT: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)


def parse_event(payload: Any) -> StreamEvent:
    """The typed event for one decoded JSON payload; an unknown `type` is a ValidationError."""
    return _STREAM_EVENT.validate_python(payload)
