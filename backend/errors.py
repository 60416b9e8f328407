"""The base of Hearth's own errors: each class says how the server and the CLI report it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar, TypedDict

if TYPE_CHECKING:  # pydantic loads with the server, not with `hearth --help`
    from backend.wire import ErrorEvent

log = logging.getLogger(__name__)


class HearthError(Exception):
    """A failure the user can act on, raised where it is found; the message says what to do.

    Subclasses set `code`, and `status` and `type` where the defaults (a server failure) do not
    fit. The server answers with them in OpenAI's error shape; the CLI prints the message.
    A subclass may keep a built-in base too (ValueError, LookupError) for callers that catch it.
    """

    status: ClassVar[int] = 500  # the HTTP status the server answers with
    type: ClassVar[str] = "server_error"  # OpenAI's error type
    code: ClassVar[str]  # a stable name clients can branch on, like "model_not_found"

    def __init__(self, *args: object, param: str | None = None) -> None:
        super().__init__(*args)
        self.param = param  # the request field at fault, as OpenAI names it: "messages[0].role"

    def response_headers(self) -> dict[str, str]:
        """Headers the server's answer carries, like a 429's Retry-After."""
        return {}


class NotFoundError(HearthError):
    """The request names something (a model, a conversation, a collection) that does not exist."""

    status = 404
    type = "not_found_error"


class InvalidRequestError(HearthError):
    """The request itself cannot be served as given: a bad name, file, image or prompt."""

    status = 400
    type = "invalid_request_error"


class DiskFullError(HearthError):
    """A file could not be written for lack of space; the message names where."""

    status = 507  # Insufficient Storage
    code = "disk_full"


class ErrorDetail(TypedDict):
    message: str
    type: str
    param: str | None
    code: str


ErrorBody = dict[str, ErrorDetail]  # {"error": {...}}


def error_body(message: str, kind: str, code: str, param: str | None = None) -> ErrorBody:
    """OpenAI's error shape; `param` names the request field at fault, if one is."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def describe(exc: BaseException) -> tuple[int, ErrorBody]:
    """Status and body for any exception; unexpected ones are logged and kept vague."""
    if isinstance(exc, HearthError):
        return exc.status, error_body(str(exc), exc.type, exc.code, exc.param)
    log.error("unexpected error", exc_info=exc)
    return 500, error_body(f"internal error: {exc}", "server_error", "internal_error")


def error_event(exc: BaseException) -> ErrorEvent:
    """The error that ends a stream whose first event has gone out, reported in-band."""
    from backend.wire import ErrorEvent

    error = describe(exc)[1]["error"]
    return ErrorEvent(message=error["message"], code=error["code"], error_type=error["type"])
