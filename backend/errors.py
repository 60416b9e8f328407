"""The base of Hearth's own errors: each class says how the server and the CLI report it."""

from __future__ import annotations

from typing import ClassVar


class HearthError(Exception):
    """A failure the user can act on, raised where it is found; the message says what to do.

    Subclasses set `code`, and `status` and `type` where the defaults (a server failure) do not
    fit. The server answers with them in OpenAI's error shape; the CLI prints the message.
    A subclass may keep a built-in base too (ValueError, LookupError) for callers that catch it.
    """

    status: ClassVar[int] = 500  # the HTTP status the server answers with
    type: ClassVar[str] = "server_error"  # OpenAI's error type
    code: ClassVar[str]  # a stable name clients can branch on, like "model_not_found"


class NotFoundError(HearthError):
    """The request names something (a model, a conversation, a collection) that does not exist."""

    status = 404
    type = "not_found_error"


class InvalidRequestError(HearthError):
    """The request itself cannot be served as given: a bad name, file, image or prompt."""

    status = 400
    type = "invalid_request_error"
