"""A chat out of Hearth and back in: Markdown (sources as footnotes) and JSON exports, and the
chats of a Hearth JSON export or an OpenAI/ChatGPT `conversations.json` read for import."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from backend.errors import InvalidRequestError
from backend.wire import (
    Attachment,
    Conversation,
    ConversationDetail,
    ConversationSettings,
    Message,
    Role,
    Source,
)

EXPORT_FORMAT: Literal["hearth-chat"] = "hearth-chat"
CITATION = re.compile(r"\[(\d+)\]")
SNIPPET_CHARS = 240


class ChatExport(BaseModel):
    """The JSON export: one chat with every message, as the API returns it, marked with its
    format so an import can tell it from other JSON."""

    format: Literal["hearth-chat"] = EXPORT_FORMAT
    version: Literal[1] = 1
    conversation: Conversation
    messages: list[Message]


class ImportedMessage(BaseModel):
    role: Role
    content: str
    created_at: float
    model: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)


class ImportedChat(BaseModel):
    """A chat to store as new: its messages keep their text, times and sources."""

    title: str
    created_at: float
    system_prompt: str | None = None
    model: str | None = None
    settings: ConversationSettings = Field(default_factory=ConversationSettings)
    messages: list[ImportedMessage]


class ImportResult(BaseModel):
    conversations: list[Conversation]
    notes: list[str] = Field(
        default_factory=list, description="What the import could not carry over, and why."
    )


class UnknownExportError(InvalidRequestError, ValueError):
    """The file is neither a Hearth chat export nor a ChatGPT conversations.json."""

    code = "unknown_chat_export"


def export_json(detail: ConversationDetail) -> ChatExport:
    return ChatExport(conversation=detail.conversation, messages=detail.messages)


def export_markdown(detail: ConversationDetail) -> str:
    """The chat as Markdown: a heading per turn, and each reply's cited passages as footnotes
    numbered through the whole chat (each reply cites its own [1], [2]…)."""
    lines = [f"# {detail.conversation.title}", ""]
    if detail.conversation.system_prompt:
        lines += [f"> System prompt: {detail.conversation.system_prompt}", ""]
    footnotes: list[str] = []
    for message in detail.messages:
        speaker = "You" if message.role == "user" else f"Hearth · {message.model or 'assistant'}"
        if message.role == "system":
            speaker = "System"
        lines += [f"## {speaker}", ""]
        lines += [_with_footnotes(message, footnotes), ""]
        lines += _uncited(message)
        for attachment in message.attachments:
            lines += _image(attachment)
        if message.status != "complete":
            lines += [f"*(reply {message.status})*", ""]
    return "\n".join(lines + footnotes).rstrip() + "\n"


def _uncited(message: Message) -> list[str]:
    """Passages the reply was given but cites nowhere: listed, as the app lists them."""
    cited = {int(n) for n in CITATION.findall(message.content)}
    rest = [source for source in message.sources if source.n not in cited]
    if not rest:
        return []
    return ["Also among the sources:", ""] + [f"- {_place(source)}" for source in rest] + [""]


def _image(attachment: Attachment) -> list[str]:
    lines = [f"*Image: {attachment.name}*", ""]
    if attachment.text:
        quoted = "\n".join(f"> {line}" for line in attachment.text.splitlines())
        lines += ["Text read from the image:", "", quoted, ""]
    if attachment.vision_note:
        lines += [f"*({attachment.vision_note})*", ""]
    return lines


def _place(source: Source) -> str:
    snippet = " ".join(source.snippet.split())[:SNIPPET_CHARS]
    return f"{source.label()}: “{snippet}”"


def _with_footnotes(message: Message, footnotes: list[str]) -> str:
    by_number = {source.n: source for source in message.sources}
    labels: dict[int, str] = {}

    def footnote(match: re.Match[str]) -> str:
        n = int(match.group(1))
        source = by_number.get(n)
        if source is None:
            return match.group(0)
        if n not in labels:
            labels[n] = f"[^{len(footnotes) + 1}]"
            footnotes.append(f"{labels[n]}: {_place(source)}")
        return labels[n]

    return CITATION.sub(footnote, message.content)


def read_import(data: Any) -> tuple[list[ImportedChat], list[str]]:
    """The chats in parsed JSON, with notes on what was left out; a format it does not know is
    a 400 that says what it expected."""
    if isinstance(data, dict) and data.get("format") == EXPORT_FORMAT:
        try:
            export = ChatExport.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise UnknownExportError(
                f"Not a valid Hearth chat export: {where}: {first['msg']}"
            ) from None
        return [_from_hearth(export)], []
    if isinstance(data, list) and all(isinstance(c, dict) and "mapping" in c for c in data):
        chats: list[ImportedChat] = []
        notes: list[str] = []
        for conversation in data:
            chat, skipped = _from_chatgpt(conversation)
            if chat.messages:
                chats.append(chat)
            if skipped:
                notes.append(f"{chat.title!r}: {skipped} non-text parts left out (images, files)")
        return chats, notes
    raise UnknownExportError(
        "Not a chat export Hearth reads: expected a Hearth chat export (JSON with"
        f' "format": "{EXPORT_FORMAT}") or ChatGPT\'s conversations.json (a list of'
        ' conversations with a "mapping").'
    )


def _from_hearth(export: ChatExport) -> ImportedChat:
    conversation = export.conversation
    return ImportedChat(
        title=conversation.title,
        created_at=conversation.created_at,
        system_prompt=conversation.system_prompt,
        model=conversation.model,
        settings=conversation.settings,
        messages=[
            ImportedMessage(
                role=m.role,
                content=m.content,
                created_at=m.created_at,
                model=m.model,
                attachments=m.attachments,
                sources=m.sources,
            )
            for m in export.messages
        ],
    )


def _from_chatgpt(conversation: dict[str, Any]) -> tuple[ImportedChat, int]:
    """The branch ChatGPT showed (from `current_node` up through the parents), its user and
    assistant text in order; returns the chat and how many non-text parts were left out."""
    mapping = conversation.get("mapping") or {}
    node_id = conversation.get("current_node")
    branch: list[dict[str, Any]] = []
    while isinstance(node_id, str) and node_id in mapping and len(branch) <= len(mapping):
        node = mapping[node_id]
        branch.append(node)
        node_id = node.get("parent")
    messages: list[ImportedMessage] = []
    skipped = 0
    created = float(conversation.get("create_time") or 0.0)
    for node in reversed(branch):
        message = node.get("message") or {}
        role = (message.get("author") or {}).get("role")
        parts = (message.get("content") or {}).get("parts") or []
        texts = [part for part in parts if isinstance(part, str) and part.strip()]
        skipped += sum(not isinstance(part, str) for part in parts)
        if role not in ("user", "assistant") or not texts:
            continue
        messages.append(
            ImportedMessage(
                role=role,
                content="\n\n".join(texts),
                created_at=float(message.get("create_time") or created),
                model=(message.get("metadata") or {}).get("model_slug"),
            )
        )
    title = str(conversation.get("title") or "Imported chat")
    return ImportedChat(title=title, created_at=created, messages=messages), skipped
