"""A chat saved to a file (Markdown to read, JSON to import again) and chats read from one."""

from __future__ import annotations

import json
import re
from pathlib import Path

from backend.errors import InvalidRequestError
from backend.store.chat_export import ChatExport, export_markdown
from backend.wire import ConversationDetail

# An export is a few MB at most; a larger file is not a chat export and would stall the window.
MAX_IMPORT_BYTES = 200 * 1024 * 1024
SAVE_FILTERS = "Markdown (*.md);;JSON, to import again (*.json)"


def suggested_name(title: str) -> str:
    """The chat's title as a file name every system accepts."""
    words = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', " ", title).split()
    return (" ".join(words) or "chat")[:80] + ".md"


def save_export(export: ChatExport, path: Path) -> None:
    """JSON when the name ends in .json, Markdown otherwise."""
    if path.suffix.lower() == ".json":
        text = export.model_dump_json(indent=2)
    else:
        detail = ConversationDetail(conversation=export.conversation, messages=export.messages)
        text = export_markdown(detail)
    path.write_text(text, encoding="utf-8")


class ChatFileError(InvalidRequestError, ValueError):
    """A file chosen for import that cannot be a chat export: too large, or not JSON."""

    code = "unreadable_chat_file"


def read_import_file(path: Path) -> object:
    """The file's JSON (read on a worker: an export may be large); a file too large or not
    JSON raises ChatFileError saying which."""
    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise ChatFileError(f"{path.name} is larger than {MAX_IMPORT_BYTES // 2**20} MB")
    try:
        return json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChatFileError(f"{path.name} is not JSON: {exc}") from None
