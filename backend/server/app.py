"""The FastAPI application: routers, the token check and the services' lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backend import __version__
from backend.server.auth import BearerTokenMiddleware
from backend.server.errors import install_error_handlers
from backend.server.routes import conversations, documents, embeddings, images, models, openai
from backend.server.services import Services
from backend.wire import EngineStatus, Health


def create_app(services: Services, token: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()  # cancels in-flight generations, then frees the model

    app = FastAPI(title="Hearth", version=__version__, lifespan=lifespan)
    app.state.services = services
    app.add_middleware(BearerTokenMiddleware, token=token)
    install_error_handlers(app)

    @app.get("/health")
    def health() -> Health:
        return Health(status="ok", version=__version__)

    @app.get("/hearth/status")
    def status() -> EngineStatus:
        generations = services.generations
        return EngineStatus(
            active_generations=len(generations.active), recent=list(generations.recent)
        )

    for module in (openai, conversations, models, documents, embeddings, images):
        app.include_router(module.router)
    return app
