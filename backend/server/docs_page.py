"""`/docs`: the API's routes on one self-contained page that loads nothing from elsewhere.

FastAPI's own page pulls Swagger UI from a CDN, which breaks offline and tells a third party
each time it is opened, and no installed package ships Swagger UI's files. This page is
rendered here from the same OpenAPI schema, with no script and no external URL; the full
schema stays at /openapi.json.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

METHODS = ("get", "post", "put", "patch", "delete")
# The browser is told to fetch nothing at all: even a link added later could not load.
POLICY = "default-src 'none'; style-src 'unsafe-inline'"
STYLE = (
    "body{font:15px/1.4 system-ui,sans-serif;max-width:64em;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;width:100%}td{padding:.3em .6em;vertical-align:top;"
    "border-top:1px solid #ccc}.doc{white-space:pre-line;color:#555}"
)


def operation_rows(schema: dict[str, Any]) -> list[str]:
    rows = []
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            summary = escape(operation.get("summary", ""))
            description = escape(operation.get("description", ""))
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}</code></td>"
                f"<td>{summary}<div class=doc>{description}</div></td></tr>"
            )
    return rows


def render_docs(schema: dict[str, Any]) -> str:
    info = schema.get("info", {})
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>"
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>"
        "<p>Every route needs the bearer token from HEARTH_HOME/token. The full schema, with "
        "every request and response body, is at <a href=/openapi.json>/openapi.json</a>.</p>"
        f"<table>{''.join(operation_rows(schema))}</table></body></html>"
    )


def install_docs_page(app: FastAPI) -> None:
    """Serve /docs; create the app with docs_url=None and redoc_url=None, which load CDNs."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(render_docs(app.openapi()), headers={"Content-Security-Policy": POLICY})
