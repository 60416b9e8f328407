"""Turning domain errors into clear JSON answers, in OpenAI's error shape."""

from __future__ import annotations

import re
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from backend.errors import HearthError, describe, error_body


def describe_http_error(request: Request, exc: HTTPException) -> dict[str, dict[str, str]]:
    """Starlette's own errors (no such route, wrong method, unreadable body) in our shape."""
    status = exc.status_code
    kinds = {401: "authentication_error", 404: "not_found_error"}
    kind = "server_error" if status >= 500 else kinds.get(status, "invalid_request_error")
    code = re.sub(r"\W+", "_", HTTPStatus(status).phrase.lower())  # "method_not_allowed"
    return error_body(f"{request.method} {request.url.path}: {exc.detail}", kind, code)


def install_error_handlers(app: FastAPI) -> None:
    async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
        status, body = describe(exc)
        return JSONResponse(body, status_code=status)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        body = error_body(f"invalid request: {problems}", "invalid_request_error", "invalid_body")
        return JSONResponse(body, status_code=422)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        body = describe_http_error(request, exc)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(HearthError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    # Anything else: Starlette answers with this, then re-raises so the server logs it too.
    app.add_exception_handler(Exception, domain_error)
