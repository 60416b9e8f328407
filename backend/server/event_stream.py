"""Progress streams as HTTP responses: typed events out as server-sent events, and the error
that ends a stream after its status line has gone out, reported in-band as an ErrorEvent."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable

from fastapi.responses import StreamingResponse

from backend import sse
from backend.server.errors import describe
from backend.wire import ErrorEvent


def error_event(exc: BaseException) -> ErrorEvent:
    """The error a route would have answered with, as the stream's last event."""
    error = describe(exc)[1]["error"]
    return ErrorEvent(message=error["message"], code=error["code"], error_type=error["type"])


def event_response(lines: AsyncIterable[str] | Iterable[str]) -> StreamingResponse:
    """Already encoded events (`sse.encode`) as a response no proxy holds back."""
    return StreamingResponse(
        lines, media_type=sse.MEDIA_TYPE, headers={"Cache-Control": "no-cache"}
    )
