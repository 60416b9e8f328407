"""Who may talk to the API from where: loopback Host names only, and CORS for browser pages.

Two plain ASGI middlewares, outside the token check (see `create_app`): a streamed response
passes through them unbuffered, and a client's disconnect still reaches it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import error_body

LOOPBACK_HOST = re.compile(r"(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?", re.IGNORECASE)
LOOPBACK_ORIGIN = re.compile(r"https?://" + LOOPBACK_HOST.pattern, re.IGNORECASE)
# Browsers send a preflight before a request with a token or a JSON body.
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"
PREFLIGHT_CACHE_S = "600"


def is_loopback_host(host: str) -> bool:
    return LOOPBACK_HOST.fullmatch(host.strip()) is not None


class LoopbackHostMiddleware:
    """Refuse a request whose Host header is not a loopback name, whatever token it carries.

    A web page can point its own domain at 127.0.0.1 (DNS rebinding); its requests then reach
    this server as same-origin ones, but they still name the page's domain in Host.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host", "")
            if not is_loopback_host(host):
                await misdirected(host)(scope, receive, send)
                return
        await self._app(scope, receive, send)


def misdirected(host: str) -> Response:
    named = f"Host {host!r}" if host else "a request without a Host header"
    message = (
        f"{named} is not served: Hearth answers only to localhost, 127.0.0.1 and [::1] "
        "(a guard against DNS rebinding)"
    )
    return JSONResponse(
        error_body(message, "invalid_request_error", "misdirected_request"), status_code=421
    )


class CorsMiddleware:
    """CORS for pages served from a loopback origin, or from one listed in `allowed_origins`.

    A preflight from such an origin is answered here, without the token (browsers never send
    one with it); the request itself still needs the token. Other origins get no CORS headers,
    so a browser keeps their pages from reading any answer.
    """

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str] = ()) -> None:
        self._app = app
        self._listed = frozenset(allowed_origins)

    def allows(self, origin: str) -> bool:
        return origin in self._listed or LOOPBACK_ORIGIN.fullmatch(origin) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        asks_first = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        if origin is not None and asks_first:
            answer = preflight(origin, headers) if self.allows(origin) else refused(origin)
            await answer(scope, receive, send)
            return
        if origin is None or not self.allows(origin):
            await self._app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                allow_origin(MutableHeaders(scope=message), origin)
            await send(message)

        await self._app(scope, receive, send_with_cors)


def allow_origin(headers: MutableHeaders, origin: str) -> None:
    headers["Access-Control-Allow-Origin"] = origin
    headers.add_vary_header("Origin")


def refused(origin: str) -> Response:
    """No CORS headers, so the browser stops the page; the message is for whoever reads the
    browser's network log."""
    message = (
        f"pages from {origin} may not use this API; a browser page may if it is served from "
        "localhost, 127.0.0.1 or [::1], or from an origin listed in allowed_origins in "
        "settings.json"
    )
    return JSONResponse(
        error_body(message, "permission_error", "origin_not_allowed"), status_code=403
    )


def preflight(origin: str, request: Headers) -> Response:
    """Allow what the page asks for: the origin is trusted, and the token is still checked on
    the request itself. The openai JS client, for one, sends headers of its own (x-stainless-*)."""
    asked = request.get("access-control-request-headers", "")
    response = Response(status_code=204)
    allow_origin(response.headers, origin)
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response.headers["Access-Control-Allow-Headers"] = ", ".join(
        filter(None, (ALLOWED_HEADERS, asked.strip()))
    )
    response.headers["Access-Control-Max-Age"] = PREFLIGHT_CACHE_S
    return response
