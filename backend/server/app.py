"""The FastAPI application: routers, the Host, CORS and token checks, the services' lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware import Middleware

from backend import __version__
from backend.models.download_queue import DownloadQueue
from backend.server.auth import BearerTokenMiddleware
from backend.server.docs_page import install_docs_page
from backend.server.errors import install_error_handlers
from backend.server.origins import CorsMiddleware, LoopbackHostMiddleware
from backend.server.routes import (
    conversations,
    documents,
    downloads,
    embeddings,
    images,
    models,
    openai,
    unsupported,
)
from backend.server.services import Services
from backend.wire import EngineStatus, Health


def create_app(services: Services, token: str) -> FastAPI:
    download_queue = DownloadQueue()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        download_queue.close()  # partial files stay, for the next run to resume
        services.close()  # cancels in-flight generations, then frees the model

    # Outermost first: a foreign Host is refused even with the token, and a browser's
    # preflight (which never carries the token) is answered before the token check.
    middleware = [
        Middleware(LoopbackHostMiddleware),
        Middleware(CorsMiddleware, allowed_origins=services.settings.allowed_origins),
        Middleware(BearerTokenMiddleware, token=token),
    ]
    app = FastAPI(
        title="Hearth",
        version=__version__,
        lifespan=lifespan,
        middleware=middleware,
        docs_url=None,  # Swagger UI and ReDoc come from a CDN: docs_page serves /docs instead
        redoc_url=None,
    )
    app.state.services = services
    app.state.downloads = download_queue
    install_error_handlers(app)
    install_docs_page(app)

    @app.get("/health")
    def health() -> Health:
        return Health(status="ok", version=__version__)

    @app.get("/hearth/status")
    def status() -> EngineStatus:
        generations = services.generations
        return EngineStatus(
            active_generations=len(generations.active), recent=list(generations.recent)
        )

    app.include_router(downloads.router)  # before models: /hearth/models/{name} takes all
    for module in (openai, conversations, models, documents, embeddings, images, unsupported):
        app.include_router(module.router)
    return app
