"""Turning domain errors into clear JSON answers, in OpenAI's error shape."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from backend.documents.errors import (
    DocumentPathError,
    InvalidCollectionNameError,
    UnknownCollectionError,
)
from backend.embeddings.minilm import EmbedderUnavailableError
from backend.images.clip import InvalidClipModelError
from backend.images.decode import ImageDecodeError, ImageTooLargeError, UnsupportedImageError
from backend.images.index import FolderNotFoundError
from backend.images.labels import NoLabelsError
from backend.llm.chat_template import ChatTemplateError
from backend.llm.context_window import PromptTooLongError
from backend.llm.remote import RemoteError
from backend.llm.runtime import EmptyPromptError, InvalidLogitBiasError, ModelLoadError
from backend.models.gguf_info import InvalidGgufError
from backend.models.memory import ModelTooLargeError
from backend.models.registry import InvalidModelNameError, ModelNameTakenError, UnknownModelError
from backend.store import ConversationNotFoundError, MessageNotFoundError

log = logging.getLogger(__name__)

# exception type -> (HTTP status, OpenAI error type, code)
ERROR_STATUS: dict[type[Exception], tuple[int, str, str]] = {
    UnknownModelError: (404, "not_found_error", "model_not_found"),
    ConversationNotFoundError: (404, "not_found_error", "conversation_not_found"),
    MessageNotFoundError: (404, "not_found_error", "message_not_found"),
    ModelTooLargeError: (400, "invalid_request_error", "model_too_large"),
    InvalidGgufError: (400, "invalid_request_error", "invalid_gguf"),
    PromptTooLongError: (400, "invalid_request_error", "context_length_exceeded"),
    ChatTemplateError: (400, "invalid_request_error", "chat_template_failed"),
    ModelNameTakenError: (409, "invalid_request_error", "model_name_taken"),
    InvalidModelNameError: (400, "invalid_request_error", "invalid_model_name"),
    EmptyPromptError: (400, "invalid_request_error", "empty_prompt"),
    InvalidLogitBiasError: (400, "invalid_request_error", "invalid_logit_bias"),
    ModelLoadError: (500, "server_error", "model_load_failed"),
    RemoteError: (502, "server_error", "remote_llm_failed"),
    UnknownCollectionError: (404, "not_found_error", "collection_not_found"),
    InvalidCollectionNameError: (400, "invalid_request_error", "invalid_collection_name"),
    DocumentPathError: (400, "invalid_request_error", "path_not_found"),
    EmbedderUnavailableError: (500, "server_error", "embedder_unavailable"),
    ImageTooLargeError: (413, "invalid_request_error", "image_too_large"),
    UnsupportedImageError: (415, "invalid_request_error", "unsupported_image_format"),
    ImageDecodeError: (400, "invalid_request_error", "invalid_image"),
    NoLabelsError: (400, "invalid_request_error", "no_labels"),
    FolderNotFoundError: (400, "invalid_request_error", "folder_not_found"),
    InvalidClipModelError: (500, "server_error", "invalid_image_model"),
}


def error_body(message: str, kind: str, code: str) -> dict[str, dict[str, str]]:
    return {"error": {"message": message, "type": kind, "code": code}}


def describe(exc: BaseException) -> tuple[int, dict[str, dict[str, str]]]:
    """Status and body for any exception; unexpected ones are logged and kept vague."""
    for kind, (status, error_type, code) in ERROR_STATUS.items():
        if isinstance(exc, kind):
            return status, error_body(str(exc), error_type, code)
    log.error("unexpected error", exc_info=exc)
    return 500, error_body(f"internal error: {exc}", "server_error", "internal_error")


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

    for kind in ERROR_STATUS:
        app.add_exception_handler(kind, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    # Anything else: Starlette answers with this, then re-raises so the server logs it too.
    app.add_exception_handler(Exception, domain_error)
