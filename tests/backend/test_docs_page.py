"""`/docs` works offline: a self-contained page that loads nothing from elsewhere."""

from __future__ import annotations

import re

from tests.backend.conftest import InProcessRealBackend

LOOPBACK = ("http://127.0.0.1", "http://localhost", "https://127.0.0.1", "https://localhost")


def test_docs_page_names_no_external_url(backend: InProcessRealBackend) -> None:
    with backend.http() as http:
        page = http.get("/docs")
        schema = http.get("/openapi.json")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = re.findall(r"https?://[^\s\"'<>)]+", page.text)
    assert [url for url in urls if not url.startswith(LOOPBACK)] == []
    assert "<script" not in page.text.lower()
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "/v1/chat/completions" in page.text and "/hearth/documents/search" in page.text
    assert schema.status_code == 200 and "/v1/chat/completions" in schema.json()["paths"]


def test_docs_needs_the_token_and_redoc_is_gone(backend: InProcessRealBackend) -> None:
    with backend.http() as http:
        assert http.get("/docs", headers={"Authorization": ""}).status_code == 401
        assert http.get("/redoc").status_code == 404
