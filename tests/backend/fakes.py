"""A scripted chat provider: the same tokens every time, and a gate that holds a reply midway, so
tests of cancels and disconnects need no sleeps and no real model. The real embedder gets the
same gate, to hold an indexing run between two batches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from backend.documents.library import DocumentLibrary, load_embedder
from backend.documents.retrieval import Hit
from backend.embeddings.minilm import MiniLmEmbedder
from backend.lazy import Lazy
from backend.llm.types import (
    ChatRequest,
    CompletionRequest,
    EventSink,
    Finished,
    ResolvedModel,
    Timings,
    Token,
)
from backend.models.registry import UnknownModelError
from backend.paths import HomeLayout
from backend.server.app import create_app
from backend.server.services import Services
from backend.settings import Settings
from backend.wire import Attachment, ImageLabel

REPLY = ("Hello", " from", " the", " fake", " model.")


class FakeProvider:
    """Implements `ChatProvider`. Every generation streams `tokens` (at most `max_tokens` of
    them) on one worker thread, in arrival order, as llama.cpp's runtime does.

    `hold_after(n)`: each later generation stops after n tokens until `release()` or its
    cancel; `holding` is set while one waits there. `step()` lets one more token through and
    holds again (a client that stops reading between tokens sees one more before it leaves).
    `fail_with(exc)`: generations raise it.
    """

    def __init__(
        self,
        models: Sequence[str] = ("tiny",),
        vision: Sequence[str] = (),
        tokens: Sequence[str] = REPLY,
    ) -> None:
        self.models, self.vision, self.tokens = set(models), set(vision), tuple(tokens)
        self.checked: list[str] = []  # every model look-up, in order
        self.requests: list[ChatRequest | CompletionRequest] = []
        self.holding = threading.Event()
        self._release = threading.Event()
        self._hold_at: int | None = None
        self._steps = threading.Semaphore(0)
        self._error: Exception | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-llm")

    def hold_after(self, tokens: int) -> None:
        self._hold_at, self._release = tokens, threading.Event()

    def release(self) -> None:
        self._release.set()

    def step(self) -> None:
        self._steps.release()

    def fail_with(self, error: Exception) -> None:
        self._error = error

    def check_model(self, name: str) -> ResolvedModel:
        self.checked.append(name)
        if name not in self.models:
            raise UnknownModelError(f"unknown model '{name}' (known models: {sorted(self.models)})")
        return ResolvedModel(name, vision=name in self.vision)

    def start_chat(
        self, request: ChatRequest, sink: EventSink, cancel: threading.Event
    ) -> Future[None]:
        self.requests.append(request)
        return self._worker.submit(self._generate, request, sink, cancel)

    def start_completion(
        self, request: CompletionRequest, sink: EventSink, cancel: threading.Event
    ) -> Future[None]:
        self.requests.append(request)
        return self._worker.submit(self._generate, request, sink, cancel)

    def drain(self) -> None:
        """Wait until every generation submitted so far has ended."""
        self._worker.submit(lambda: None).result(timeout=10)  # a hang fails, not blocks

    def close(self) -> None:
        self.release()
        self._worker.shutdown(wait=True)

    def _generate(
        self, request: ChatRequest | CompletionRequest, sink: EventSink, cancel: threading.Event
    ) -> None:
        if self._error is not None:
            raise self._error
        limit = request.params.max_tokens or len(self.tokens)
        sent, finish_reason = 0, "stop" if limit >= len(self.tokens) else "length"
        for text in self.tokens[:limit]:
            if sent == self._hold_at:
                self._wait_for_release(cancel)
            if cancel.is_set():
                finish_reason = "cancelled"
                break
            sink(Token(text))
            sent += 1
        timings = Timings(prompt_tokens=7, completion_tokens=sent, prompt_ms=1.0, generation_ms=2.0)
        sink(Finished(finish_reason, timings, request.model, context_size=512))

    def _wait_for_release(self, cancel: threading.Event) -> None:
        self.holding.set()
        # Any of the three ends the wait; the short timeout only lets it see them all.
        while not (self._release.is_set() or cancel.is_set()):
            if self._steps.acquire(timeout=0.01):
                assert self._hold_at is not None  # only a hold waits here
                self._hold_at += 1  # the next token holds again
                break
        self.holding.clear()


class GatedEmbedder:
    """The real MiniLM embedder (loaded on first use) behind a gate; everything but `embed` is
    passed through. An indexing run embeds once per batch, so the gate counts batches.

    `hold_after(n)`: after n more `embed` calls, each call holds until `release()`; `holding` is
    set while one waits. `step()` lets one held call through and holds the next again.
    """

    HOLD_LIMIT_S = 60  # a test that never releases fails instead of hanging the run's thread

    def __init__(self, load: Callable[[], MiniLmEmbedder]) -> None:
        self._real = Lazy(load)
        self.holding = threading.Event()
        self._release = threading.Event()
        self._steps = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._until_hold: int | None = None

    def hold_after(self, batches: int) -> None:
        with self._lock:
            self._until_hold, self._release = batches, threading.Event()

    def release(self) -> None:
        self._release.set()

    def step(self) -> None:
        self._steps.release()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            if self._until_hold is not None:
                self._until_hold -= 1
            hold = self._until_hold is not None and self._until_hold < 0
        if hold:
            self._wait_for_release()
        return self._real.get().embed(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real.get(), name)

    def _wait_for_release(self) -> None:
        self.holding.set()
        try:
            for _ in range(self.HOLD_LIMIT_S * 100):  # short waits, to see release and step
                if self._release.is_set() or self._steps.acquire(timeout=0.01):
                    return
            raise TimeoutError("the embedder was held and never released")
        finally:
            self.holding.clear()


def gate_embedder(services: Services) -> GatedEmbedder:
    """Put a `GatedEmbedder` in place of the services' embedder, for the documents library (which
    gets a new one around it) and every route alike."""
    settings = services.settings
    gated = GatedEmbedder(lambda: load_embedder(settings))
    services.embedder = Lazy(lambda: gated)  # type: ignore[arg-type]
    services.documents.close()  # it opened nothing but its ingest state
    services.documents = DocumentLibrary(
        services.layout, settings, vectors=services.vectors, embedder=services.embedder
    )
    return gated


class FakeImages:
    """Stands in for `ImageService.attach`: each reference is stored as itself, with fixed
    labels, so no CLIP model is needed."""

    LABELS = (ImageLabel(label="cat", score=0.8), ImageLabel(label="dog", score=0.2))

    def __init__(self) -> None:
        self.attached: list[str] = []

    def attach(self, references: Sequence[str]) -> list[Attachment]:
        self.attached.extend(references)
        return [
            Attachment(path=ref, name=Path(ref).name, labels=list(self.LABELS))
            for ref in references
        ]


class FakeLibrary:
    """Stands in for `DocumentLibrary.search`: every question retrieves `hits`."""

    def __init__(self, hits: Sequence[Hit] = ()) -> None:
        self.hits = list(hits)
        self.searched: list[tuple[str, list[str]]] = []

    def search(self, query: str, collections: Sequence[str], k: int, mode: str) -> list[Hit]:
        self.searched.append((query, list(collections)))
        return self.hits[:k]

    def close(self) -> None:
        pass


def open_services(home: Path, provider: FakeProvider, **settings: object) -> Services:
    """The backend's real services (store, registry, tracker, settings) around the scripted
    provider and `FakeImages`."""
    layout = HomeLayout(home).ensure()
    values = {"default_model": "tiny", "documents_model": "tiny-docs", "threads": 1} | settings
    services = Services.open(layout, Settings.model_validate(values))
    services.provider.close()  # the llama.cpp runtime it opened has loaded nothing
    services.provider = provider
    services.images = FakeImages()  # type: ignore[assignment]
    return services


API_TOKEN = "test-token"


@contextmanager
def api_client(services: Services) -> Iterator[TestClient]:
    """The real app in process around `services`, as an authorised client; leaving closes the
    services, as the server's shutdown does. Its Host is loopback: the app refuses any other
    (TestClient's own is "testserver")."""
    app = create_app(services, API_TOKEN)
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with TestClient(app, base_url="http://localhost", headers=headers) as client:
        yield client
