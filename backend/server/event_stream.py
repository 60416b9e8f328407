"""Progress streams as HTTP responses: events already encoded by `backend.sse`, sent so that
no proxy holds them back."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable

from fastapi.responses import StreamingResponse

from backend import sse


def event_response(lines: AsyncIterable[str] | Iterable[str]) -> StreamingResponse:
    """Already encoded events (`sse.encode`) as a response no proxy holds back."""
    return StreamingResponse(
        lines,
        media_type=sse.MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
