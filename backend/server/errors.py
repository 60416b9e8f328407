"""Turning domain errors into clear JSON answers, in OpenAI's error shape.

A body that is not JSON, or does not validate, is a 400 `invalid_request_error` as OpenAI
answers it (not FastAPI's 422), whose `param` names the field at fault in OpenAI's spelling.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from backend.errors import ErrorBody, HearthError, describe, error_body

# Where a request's value came from, as FastAPI's `loc` starts; only the body's fields nest.
REQUEST_PARTS = {"body", "query", "path", "header", "cookie"}


def describe_http_error(request: Request, exc: HTTPException) -> ErrorBody:
    """Starlette's own errors (no such route, wrong method, unreadable body) in our shape."""
    status = exc.status_code
    kinds = {401: "authentication_error", 404: "not_found_error"}
    kind = "server_error" if status >= 500 else kinds.get(status, "invalid_request_error")
    code = re.sub(r"\W+", "_", HTTPStatus(status).phrase.lower())  # "method_not_allowed"
    return error_body(f"{request.method} {request.url.path}: {exc.detail}", kind, code)


def _holds(value: Any, step: int | str) -> bool:
    if isinstance(value, list):
        return isinstance(step, int) and 0 <= step < len(value)
    return isinstance(value, dict) and step in value


def locate(
    loc: Sequence[int | str], body: Any, missing: bool = False
) -> tuple[str | None, tuple[int | str, ...]]:
    """pydantic's `loc` as OpenAI names a field: ("body", "messages", 0, "role") is
    "messages[0].role"; and the steps the body does not hold, pydantic's names for the member
    of a union that failed ("str", "list[int]"), which are left out of the name (but a missing
    field's own name is kept)."""
    if loc and loc[0] in REQUEST_PARTS - {"body"}:  # a query parameter or header: no nesting
        return ".".join(str(step) for step in loc[1:]) or None, ()
    steps = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    param, value, members = "", body, list[int | str]()
    for position, step in enumerate(steps):
        if _holds(value, step):
            value = value[step]
        elif not (missing and position == len(steps) - 1):
            members.append(step)
            continue
        param += f"[{step}]" if isinstance(step, int) else f".{step}" if param else str(step)
    return param or None, tuple(members)


def openai_param(loc: Sequence[int | str], body: Any, missing: bool = False) -> str | None:
    return locate(loc, body, missing)[0]


def not_json_message(raw: Any, position: int, reason: str) -> str:
    text = raw if isinstance(raw, str) else ""
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return (
        f"the body is not valid JSON: {reason} at line {line}, column {column} "
        f"(character {position})"
    )


def describe_validation_error(exc: RequestValidationError) -> ErrorBody:
    """A body that is not JSON, an unknown field or a bad value: a 400 naming the field."""
    errors = exc.errors()
    first = errors[0]
    if first["type"] == "json_invalid":
        reason = first.get("ctx", {}).get("error", "it does not parse")
        message = not_json_message(exc.body, int(first["loc"][-1]), reason)
        return error_body(message, "invalid_request_error", "invalid_json")
    # A value that fits no member of a union fails once per member: the member with the
    # fewest errors, the deepest of those, is the one the client meant; its errors come first.
    described: dict[tuple[int | str, ...], list[tuple[str | None, str, str]]] = {}
    for error in errors:
        param, members = locate(error["loc"], exc.body, error["type"] == "missing")
        if error["type"] == "extra_forbidden":
            problem, code = f"Unrecognized request argument supplied: {param}", "unknown_parameter"
        else:
            problem, code = f"{param or 'the body'}: {error['msg']}", "invalid_body"
        described.setdefault(members, []).append((param, problem, code))
    groups = sorted(described.values(), key=lambda group: (len(group), -len(group[0][0] or "")))
    param, _, code = groups[0][0]
    problems = dict.fromkeys(problem for group in groups for _, problem, _ in group)
    return error_body("; ".join(problems), "invalid_request_error", code, param)


def install_error_handlers(app: FastAPI) -> None:
    async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
        status, body = describe(exc)
        headers = exc.response_headers() if isinstance(exc, HearthError) else None
        return JSONResponse(body, status_code=status, headers=headers)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(describe_validation_error(exc), status_code=400)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        body = describe_http_error(request, exc)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(HearthError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    # Anything else: Starlette answers with this, then re-raises so the server logs it too.
    app.add_exception_handler(Exception, domain_error)
