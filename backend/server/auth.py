"""Every request must carry the bearer token from HEARTH_HOME/token.

A plain ASGI middleware, not Starlette's BaseHTTPMiddleware, so that a client's disconnect
still reaches a streaming response and stops its generation.
"""

from __future__ import annotations

import secrets

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.errors import error_body

UNAUTHORIZED = error_body(
    "missing or wrong bearer token; it is in HEARTH_HOME/token",
    "authentication_error",
    "invalid_api_key",
)


class BearerTokenMiddleware:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = Headers(scope=scope).get("authorization", "").encode()
            if not secrets.compare_digest(given, self._expected):
                await JSONResponse(UNAUTHORIZED, status_code=401)(scope, receive, send)
                return
        await self._app(scope, receive, send)
