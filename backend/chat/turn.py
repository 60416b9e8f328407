"""Preparing a chat turn: the model resolved once, the prompt, images, sampling and sources.

Everything that can fail before the model runs (an unknown model, an unreadable image, a
missing collection) fails here, before the conversation changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backend.chat.models import resolve_model
from backend.chat.services import ChatServices
from backend.documents.grounding import NOTHING_FOUND, find_sources, grounded_question
from backend.images.attachments import image_inputs, noted_for, with_image_context
from backend.llm.thoughts import STEP_BY_STEP, without_thoughts
from backend.llm.types import ChatRequest, PromptMessage, ResolvedModel, SamplingParams, ToolUse
from backend.settings import Settings
from backend.wire import Attachment, Conversation, Message, ReplyVersion, Source

PromptMessages = list[PromptMessage]  # as ChatRequest takes them


@dataclass(frozen=True)
class Question:
    """What the user sends to a conversation."""

    content: str
    images: tuple[str, ...] = ()  # image paths or base64 data URLs
    replace_from: int | None = None  # delete this message and all after it first (edit, retry)


@dataclass(frozen=True)
class Turn:
    """One chat turn, ready to run on the provider."""

    model: ResolvedModel
    request: ChatRequest
    attachments: tuple[Attachment, ...] = ()
    sources: tuple[Source, ...] = ()
    asked: Message | None = None  # the stored question; None: nothing is stored (OpenAI API)
    fixed_reply: str | None = None  # the answer when the model must not make one up
    # The replies a regenerated one replaces, kept as its other versions
    earlier_versions: tuple[ReplyVersion, ...] = ()
    # Images of messages before the last (OpenAI API): their labels are in those messages' text
    earlier_attachments: tuple[Attachment, ...] = ()

    @property
    def conversation_id(self) -> str | None:
        return self.asked.conversation_id if self.asked else None


def reply_limit(tokens: int, context_size: int) -> int | None:
    """The default reply limit: at most half the context, the most a prompt ever leaves for
    a reply (ContextBudget); 0 is "no limit", chosen deliberately."""
    return min(tokens, context_size // 2) if tokens else None


def sampling_for(conversation: Conversation, settings: Settings) -> SamplingParams:
    """The chat's own settings over Hearth's defaults for its chats: a bounded reply, small
    repetition penalties, and a loop ends the reply. An answer from documents is greedy and
    unpenalised unless the chat says otherwise, as hearth-smol was measured
    (bench/smol_eval.py): sampled, it drifts from its sources now and then."""
    chosen = conversation.settings.model_dump()  # only the settings the chat has set
    chosen.pop("think_step_by_step", None)  # a prompt instruction, not sampling
    if "max_tokens" in chosen:
        max_tokens = chosen.pop("max_tokens") or None  # 0: this chat has no limit
    else:
        max_tokens = reply_limit(settings.max_reply_tokens, settings.context_size)
    defaults = {
        "repeat_penalty": settings.repeat_penalty,
        "frequency_penalty": settings.frequency_penalty,
        "stop_repetition": True,
    }
    grounded = (
        {"temperature": 0.0, "repeat_penalty": 1.0, "frequency_penalty": 0.0}
        if conversation.collections
        else {}
    )
    return SamplingParams(**(defaults | grounded | chosen), max_tokens=max_tokens)


def _unanswered(message: Message, after: Message | None) -> bool:
    return message.role == "user" and after is not None and after.role == "user"


def prompt_history(services: ChatServices, conversation: Conversation) -> PromptMessages:
    """The system prompt and every complete message, oldest first. Images of messages before
    the last (the question, whose images the turn adds) go in as their labels. Replies go in
    without a reasoning model's thoughts.

    An interrupted reply goes in with the text it has, and a question whose reply failed or
    never came is left out, so the prompt never holds two user turns in a row (many chat
    templates refuse them)."""
    kept = [
        m
        for m in services.store.messages(conversation.id)
        if m.status == "complete" or (m.status == "interrupted" and m.content)
    ]
    stored = [
        m for m, after in zip(kept, [*kept[1:], None], strict=True) if not _unanswered(m, after)
    ]
    history: PromptMessages = [
        {"role": m.role, "content": with_image_context(_said(m), m.attachments)}
        for m in stored[:-1]
    ]
    history += [{"role": m.role, "content": _said(m)} for m in stored[-1:]]
    system = [conversation.system_prompt] if conversation.system_prompt else []
    if conversation.settings.think_step_by_step:
        system.append(STEP_BY_STEP)
    if system:
        history.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return history


def _said(message: Message) -> str:
    return without_thoughts(message.content) if message.role == "assistant" else message.content


def with_images(
    model: ResolvedModel, attachments: Sequence[Attachment], messages: PromptMessages
) -> tuple[PromptMessages, tuple[bytes, ...]]:
    """The prompt and the images for a turn whose last message has `attachments`: a model with
    a vision projector gets the pixels; any other, CLIP's labels as text."""
    images, text = image_inputs(model.name, attachments, model.vision, messages[-1]["content"])
    return [*messages[:-1], {**messages[-1], "content": text}], images


@dataclass(frozen=True)
class PlannedTurn:
    """A turn checked before anything is searched or stored: its chat, model and images."""

    conversation: Conversation
    question: Question
    model: ResolvedModel
    attachments: tuple[Attachment, ...]

    @property
    def searches_documents(self) -> bool:
        return bool(self.conversation.collections)


def plan_turn(services: ChatServices, conversation_id: str, question: Question) -> PlannedTurn:
    """What can fail quickly before the model runs (an unknown model, an unreadable image)
    fails here. Blocking work (labelling images): call it off the event loop."""
    conversation = services.store.get(conversation_id)
    documents = bool(conversation.collections)
    model = resolve_model(services.provider, services.settings, conversation.model, documents)
    # A model that cannot see gets the images' labels and text, and the attachments say so.
    attached = services.images.attach(question.images) if question.images else []
    return PlannedTurn(conversation, question, model, tuple(noted_for(attached, model.vision)))


def prepare_turn(services: ChatServices, conversation_id: str, question: Question) -> Turn:
    """Store the question (after `replace_from` is dropped) and build the turn that answers it.
    Blocking work (labelling images, retrieval): call it off the event loop."""
    return build_turn(services, plan_turn(services, conversation_id, question))


def build_turn(services: ChatServices, planned: PlannedTurn) -> Turn:
    """Find the sources, then store the question and build the turn. Sources are found
    first: a search that fails leaves the conversation as it was."""
    conversation, question, model = planned.conversation, planned.question, planned.model
    conversation_id, attachments = conversation.id, list(planned.attachments)
    documents = planned.searches_documents
    sources: list[Source] = []
    if documents:
        sources = find_sources(services.documents, conversation.collections, question.content)
    earlier: list[ReplyVersion] = []
    if question.replace_from is not None:
        earlier = replaced_versions(services, conversation_id, question)
        services.store.delete_messages_from(conversation_id, question.replace_from)
    asked = services.store.add_message(
        conversation_id, "user", question.content, attachments=attachments
    )
    messages = prompt_history(services, conversation)
    sampling = sampling_for(conversation, services.settings)
    if documents and not sources:
        # Nothing relevant: an honest fixed reply, never an answer the model made up.
        request = ChatRequest(model.name, messages, sampling)
        return Turn(
            model,
            request,
            tuple(attachments),
            (),
            asked,
            fixed_reply=NOTHING_FOUND,
            earlier_versions=tuple(earlier),
        )
    if sources:
        messages[-1] = {"role": "user", "content": grounded_question(question.content, sources)}
    prompt, images = with_images(model, attachments, messages)
    request = ChatRequest(model.name, prompt, sampling, images)
    return Turn(
        model, request, tuple(attachments), tuple(sources), asked, earlier_versions=tuple(earlier)
    )


def replaced_versions(
    services: ChatServices, conversation_id: str, question: Question
) -> list[ReplyVersion]:
    """Asking the same question again (Regenerate, Retry) keeps the reply it replaces, and
    that reply's own versions; an edited question starts afresh."""
    messages = services.store.messages(conversation_id)
    for asked, reply in zip(messages, messages[1:], strict=False):
        if asked.id == question.replace_from:
            same = asked.content == question.content and reply.role == "assistant"
            return reply.all_versions() if same and reply.content else []
    return []


def labelled_earlier_images(
    services: ChatServices, messages: PromptMessages, earlier_images: Sequence[Sequence[str]]
) -> tuple[PromptMessages, list[Attachment]]:
    """The history with each earlier message's images as CLIP labels in its text, as a model
    without vision gets the last message's: a vision model sees only the last message's pixels."""
    history, attachments = list(messages), list[Attachment]()
    for place, references in enumerate(earlier_images):
        if references:
            attached = services.images.attach(references)
            content = with_image_context(history[place]["content"], attached)
            history[place] = {**history[place], "content": content}
            attachments += attached
    return history, attachments


def prepare_api_turn(
    services: ChatServices,
    requested_model: str | None,
    messages: PromptMessages,
    image_references: Sequence[str],
    sampling: SamplingParams,
    earlier_images: Sequence[Sequence[str]] = (),
    drop_old_turns: bool = True,
    tool_use: ToolUse | None = None,
) -> Turn:
    """A turn of the OpenAI API: the client sends the whole history and nothing is stored.
    `image_references` are the last message's images; `earlier_images` each earlier one's.
    Without `drop_old_turns`, a history too long for the context is refused, not shortened.
    `tool_use`: the functions the model may (or must) call."""
    if len(earlier_images) > len(messages) - 1:
        raise ValueError("earlier_images has more entries than there are earlier messages")
    model = resolve_model(services.provider, services.settings, requested_model)
    history, earlier = labelled_earlier_images(services, messages, earlier_images)
    attached = services.images.attach(image_references) if image_references else []
    attachments = noted_for(attached, model.vision)
    prompt, images = with_images(model, attachments, history)
    request = ChatRequest(
        model.name, prompt, sampling, images, tool_use=tool_use, drop_old_turns=drop_old_turns
    )
    return Turn(model, request, tuple(attachments), earlier_attachments=tuple(earlier))
