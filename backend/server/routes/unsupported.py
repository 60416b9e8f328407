"""OpenAI endpoints Hearth does not serve, answered with a 404 that says so and what to use."""

from __future__ import annotations

from fastapi import APIRouter, Request

from backend.errors import NotFoundError

router = APIRouter(include_in_schema=False)
RESPONSES_METHODS = ["GET", "POST", "DELETE"]


class UnsupportedEndpointError(NotFoundError):
    """An OpenAI endpoint that Hearth does not implement."""

    code = "unsupported_endpoint"


@router.api_route("/v1/responses", methods=RESPONSES_METHODS)
@router.api_route("/v1/responses/{_rest:path}", methods=RESPONSES_METHODS)
def responses(request: Request) -> None:
    """The Responses API: its stored responses and built-in tools have no offline counterpart
    here, and every client that speaks it also speaks chat completions."""
    raise UnsupportedEndpointError(
        f"{request.method} {request.url.path}: the Responses API (/v1/responses) is not "
        "supported by Hearth; use /v1/chat/completions, which streams too"
    )
