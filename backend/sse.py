"""Server-sent events: the one place that writes and reads the `data: ...` lines of a stream."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from backend.wire import StreamEvent, parse_event

DONE = "[DONE]"  # OpenAI's end-of-stream marker
DATA_PREFIX = "data: "
MEDIA_TYPE = "text/event-stream"


def encode(event: BaseModel | Mapping[str, Any] | str) -> str:
    """One event: a typed event or an OpenAI chunk as JSON, or a bare marker such as DONE."""
    if isinstance(event, BaseModel):
        data = json.dumps(event.model_dump(mode="json"), ensure_ascii=False)
    elif isinstance(event, str):
        data = event
    else:
        data = json.dumps(event, ensure_ascii=False)
    return f"{DATA_PREFIX}{data}\n\n"


def comment(text: str) -> str:
    """A comment line: SSE clients (OpenAI's among them) skip it; a person reading sees it."""
    return f": {text}\n\n"


def decode(lines: Iterable[str]) -> Iterator[Any]:
    """The JSON payload of each event among a stream's lines, until DONE or the stream ends;
    blank lines, comments and other fields are not events' data."""
    for line in lines:
        if not line.startswith(DATA_PREFIX):
            continue
        data = line.removeprefix(DATA_PREFIX)
        if data == DONE:
            return
        yield json.loads(data)


def decode_events(lines: Iterable[str]) -> Iterator[StreamEvent]:
    """The typed events among a stream's lines."""
    for payload in decode(lines):
        yield parse_event(payload)
