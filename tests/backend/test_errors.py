"""Hearth's errors carry their own status, type and code, and the server answers with them."""

from __future__ import annotations

import importlib
import pkgutil
from http import HTTPStatus

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import backend
from backend.documents.errors import UnknownCollectionError
from backend.errors import HearthError, describe
from backend.images.decode import CorruptImageError, ImageTooLargeError
from backend.llm.remote import RemoteError
from backend.server.errors import install_error_handlers

# "requests": OpenAI's type for a 429 that limits the number of requests (a full queue).
OPENAI_ERROR_TYPES = {"invalid_request_error", "not_found_error", "requests", "server_error"}


def _all_subclasses(cls: type[HearthError]) -> set[type[HearthError]]:
    direct = set(cls.__subclasses__())
    return direct.union(*(_all_subclasses(sub) for sub in direct))


def _hearth_errors() -> set[type[HearthError]]:
    """Every HearthError subclass in the backend: importing each module defines them all."""
    for module in pkgutil.walk_packages(backend.__path__, "backend."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    return {cls for cls in _all_subclasses(HearthError) if cls.__module__ != "backend.errors"}


def test_every_hearth_error_says_how_the_server_reports_it() -> None:
    errors = _hearth_errors()
    assert {UnknownCollectionError, ImageTooLargeError, RemoteError} <= errors
    own_codes: dict[str, type[HearthError]] = {}
    for cls in errors:
        assert cls.status in {s.value for s in HTTPStatus if s >= 400}, cls
        assert cls.type in OPENAI_ERROR_TYPES, cls
        assert (cls.type == "server_error") == (cls.status >= 500), cls
        assert cls.code and cls.code.isidentifier(), cls
        if "code" in vars(cls):  # a subclass may share its parent's code, two classes may not
            assert own_codes.setdefault(cls.code, cls) is cls, (cls, own_codes[cls.code])


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (UnknownCollectionError("no 'x'"), 404, "not_found_error", "collection_not_found"),
        (ImageTooLargeError("too big"), 413, "invalid_request_error", "image_too_large"),
        (CorruptImageError("truncated"), 400, "invalid_request_error", "invalid_image"),
        (RemoteError("the remote failed"), 502, "server_error", "remote_llm_failed"),
    ],
)
def test_describe_reads_the_class(error: HearthError, status: int, kind: str, code: str) -> None:
    body = {"error": {"message": str(error), "type": kind, "param": None, "code": code}}
    assert describe(error) == (status, body)


def test_a_route_raising_a_hearth_error_answers_from_its_class(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/too-big")
    def too_big() -> None:
        raise ImageTooLargeError("photo.png is too large to decode safely")

    response = TestClient(app, raise_server_exceptions=False).get("/too-big")
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "message": "photo.png is too large to decode safely",
            "type": "invalid_request_error",
            "param": None,
            "code": "image_too_large",
        }
    }
    assert "Traceback" not in caplog.text  # a user's mistake is not logged as a bug
