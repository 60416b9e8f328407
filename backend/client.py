"""The one typed client of Hearth's API, used by the CLI, the self-test and the GUI: a method per
route, returning the wire types. It also finds or starts `hearth serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from backend import sse
from backend.discovery import BackendInfo, load_or_create_token, read_backend_info
from backend.documents.retrieval import Hit, SearchMode
from backend.documents.search_results import SearchResults
from backend.paths import HomeLayout
from backend.settings import Settings
from backend.store.chat_export import ChatExport, ImportResult
from backend.wire import (
    CatalogEntry,
    ChatCompletion,
    ChatEvent,
    CollectionDetail,
    CollectionInfo,
    Conversation,
    ConversationDetail,
    DocumentText,
    DownloadEvent,
    DownloadStatus,
    EmbeddingList,
    ErrorEvent,
    FileRecord,
    Health,
    HubRepo,
    HubSearchHit,
    ImageHit,
    ImageIndexEvent,
    ImageReading,
    IndexedFolder,
    IndexedFolderRemoved,
    IngestEvent,
    Message,
    ModelDescription,
    ModelSettings,
    PassageContext,
    StreamEvent,
)

STARTUP_TIMEOUT_S = 60.0
CONVERSATIONS = "/hearth/conversations"
DOCUMENTS = "/hearth/documents"
IMAGES = "/hearth/images"
MODELS = "/hearth/models"
DOWNLOADS = f"{MODELS}/downloads"

T = TypeVar("T")
E = TypeVar("E", bound=BaseModel)


class BackendError(Exception):
    """The backend answered with an error, or could not be reached or started."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code  # the error's code, like "model_too_large", for a client that asks


def _raise_for_error(response: httpx.Response) -> None:
    if response.is_success:
        return
    code = None
    try:
        error = response.json()["error"]
        message, code = error["message"], error.get("code")
    except (ValueError, KeyError, TypeError, AttributeError):
        message = response.text or response.reason_phrase
    raise BackendError(message, response.status_code, code)


def _from_here(path: str | Path) -> str:
    """Relative paths mean the caller's working folder, not the backend's. An empty one stays
    empty, for the backend to refuse instead of indexing its own folder."""
    return str(Path(path).expanduser().absolute()) if str(path) else ""


def _until_error(
    events: Generator[StreamEvent, None, None], kind: type[E]
) -> Generator[E, None, None]:
    """A progress stream's events; the error event that ends a failed run is raised."""
    with closing(events):  # closing this generator closes the connection at once
        for event in events:
            if isinstance(event, ErrorEvent):
                raise BackendError(event.message)
            if not isinstance(event, kind):
                raise BackendError(f"unexpected {event.type!r} event in a {kind.__name__} stream")
            yield event


class HearthClient:
    """Hearth's API over HTTP with the bearer token; every method blocks, so the GUI calls it
    from workers. Failures raise BackendError with the backend's reason."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self._http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(30.0, read=None),
        )
        self.conversations = ConversationsApi(self)
        self.documents = DocumentsApi(self)
        self.images = ImagesApi(self)
        self.models = ModelsApi(self)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded JSON answer of any route (None for an empty one)."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise BackendError(f"cannot reach the backend at {self.url}: {exc}") from exc
        _raise_for_error(response)
        return response.json() if response.content else None

    def call(self, kind: type[T], method: str, path: str, **kwargs: Any) -> T:
        """A route's answer, validated as `kind`."""
        return TypeAdapter(kind).validate_python(self.request(method, path, **kwargs))

    @contextmanager
    def _streaming(self, path: str, body: object, method: str = "POST") -> Iterator[httpx.Response]:
        with self._http.stream(method, path, json=body) as response:
            if not response.is_success:
                response.read()
                _raise_for_error(response)
            yield response

    def stream_events(self, path: str, body: object) -> Generator[Any, None, None]:
        """POST and yield each server-sent event's JSON, as sent. Closing the generator closes
        the connection, which the backend takes as a cancel."""
        with self._streaming(path, body) as response:
            yield from sse.decode(response.iter_lines())

    def stream(
        self, path: str, body: object, method: str = "POST"
    ) -> Generator[StreamEvent, None, None]:
        """POST (or `method`) and yield each server-sent event, typed; closing it closes the
        connection."""
        with self._streaming(path, body, method) as response:
            yield from sse.decode_events(response.iter_lines())

    def health(self) -> Health:
        return self.call(Health, "GET", "/health")

    def embed(self, texts: Sequence[str]) -> EmbeddingList:
        """Vectors for `texts` from the documents embedder (OpenAI's /v1/embeddings)."""
        return self.call(EmbeddingList, "POST", "/v1/embeddings", json={"input": list(texts)})

    def chat_completion(
        self, messages: Sequence[dict[str, str]], **sampling: float | int | None
    ) -> ChatCompletion:
        """One answer, not streamed, from OpenAI's /v1/chat/completions."""
        body = {"messages": list(messages), **sampling}
        return self.call(ChatCompletion, "POST", "/v1/chat/completions", json=body)


class ConversationsApi:
    """`/hearth/conversations`: stored chats and their turns."""

    def __init__(self, client: HearthClient) -> None:
        self._client = client

    def find(self, query: str = "") -> list[Conversation]:
        """Most recent first; with a query, those whose title or messages hold it."""
        params = {"q": query} if query else None
        return self._client.call(list[Conversation], "GET", CONVERSATIONS, params=params)

    def create(
        self, title: str = "New chat", model: str | None = None, system_prompt: str | None = None
    ) -> Conversation:
        body = {"title": title, "model": model, "system_prompt": system_prompt}
        return self._client.call(Conversation, "POST", CONVERSATIONS, json=body)

    def get(self, conversation_id: str) -> ConversationDetail:
        return self._client.call(ConversationDetail, "GET", _one(conversation_id))

    def update(self, conversation_id: str, **changes: Any) -> Conversation:
        """Changes: title, system_prompt, model, collections, settings."""
        return self._client.call(Conversation, "PATCH", _one(conversation_id), json=changes)

    def delete(self, conversation_id: str) -> None:
        self._client.request("DELETE", _one(conversation_id))

    def show_version(self, conversation_id: str, message_id: int, number: int) -> Message:
        """Show a regenerated reply's version `number` (1 = oldest)."""
        path = f"{_one(conversation_id)}/messages/{message_id}/version"
        return self._client.call(Message, "PUT", path, json={"version": number})

    def export(self, conversation_id: str) -> ChatExport:
        """The chat with every message, as the JSON an import reads back."""
        path = f"{_one(conversation_id)}/export"
        return self._client.call(ChatExport, "GET", path, params={"format": "json"})

    def import_chats(self, data: object) -> ImportResult:
        """Store the chats of a Hearth export or ChatGPT's conversations.json as new ones."""
        return self._client.call(ImportResult, "POST", f"{CONVERSATIONS}/import", json=data)

    def send(
        self,
        conversation_id: str,
        content: str,
        replace_from: int | None = None,
        images: Sequence[str] = (),
    ) -> Generator[ChatEvent, None, None]:
        """A turn: [queued,] user, token..., then done, or error then done. Images are paths or
        data URLs; the backend labels them and stores a copy with the user message."""
        body: dict[str, object] = {"content": content, "stream": True, "images": list(images)}
        if replace_from is not None:
            body["replace_from"] = replace_from
        events = self._client.stream(f"{_one(conversation_id)}/messages", body)
        with closing(events):  # closing the reply closes the connection: the backend cancels
            for event in events:
                if not isinstance(event, ChatEvent):
                    raise BackendError(f"unexpected {event.type!r} event in a chat stream")
                yield event


def _one(conversation_id: str) -> str:
    return f"{CONVERSATIONS}/{quote(conversation_id, safe='')}"


class DocumentsApi:
    """`/hearth/documents`, with the methods of the in-process DocumentLibrary, so the CLI
    takes either."""

    def __init__(self, client: HearthClient) -> None:
        self._client = client

    def collections(self) -> list[CollectionInfo]:
        return self._client.call(list[CollectionInfo], "GET", f"{DOCUMENTS}/collections")

    def detail(self, name: str) -> CollectionDetail:
        return self._client.call(CollectionDetail, "GET", _collection(name))

    def collection(self, name: str) -> CollectionInfo:
        return self.detail(name).collection

    def files(self, name: str) -> list[FileRecord]:
        """Every file the collection reads, with its status and why it failed, if it did."""
        return self.detail(name).files

    def add(
        self,
        name: str,
        paths: Sequence[str | Path],
        max_file_bytes: int | None = None,
        ocr: bool | None = None,
    ) -> Iterator[IngestEvent]:
        """Creates the collection if new; events: planned, one per file, finished. `ocr`
        switches OCR of scans and pictures on or off (None leaves it; new collections: on)."""
        body = {
            "name": name,
            "paths": [_from_here(p) for p in paths],
            "max_file_bytes": max_file_bytes,
            "ocr": ocr,
            "stream": True,
        }
        return _until_error(self._client.stream(f"{DOCUMENTS}/collections", body), IngestEvent)

    def sync(self, name: str, max_file_bytes: int | None = None) -> Iterator[IngestEvent]:
        body = {"max_file_bytes": max_file_bytes, "stream": True}
        return _until_error(self._client.stream(f"{_collection(name)}/sync", body), IngestEvent)

    def remove(self, name: str) -> None:
        self._client.request("DELETE", _collection(name))

    def search(
        self, query: str, collections: Sequence[str], k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[Hit]:
        return self.search_results(query, collections, k, mode).hits

    def search_results(
        self, query: str, collections: Sequence[str], k: int = 5, mode: SearchMode = "hybrid"
    ) -> SearchResults:
        """The hits and how much of the collections dense search saw (`dense.label`)."""
        body = {"query": query, "collections": list(collections), "k": k, "mode": mode}
        return self._client.call(SearchResults, "POST", f"{DOCUMENTS}/search", json=body)

    def context(self, name: str, path: str, text: str, around: int = 1) -> PassageContext:
        """A cited passage (a source's path and snippet) with the text around it."""
        body = {"path": path, "text": text, "around": around}
        route = f"{_collection(name)}/context"
        return self._client.call(PassageContext, "POST", route, json=body)

    def text(self, name: str, path: str, max_chars: int = 12_000) -> DocumentText:
        """A document's indexed text from its start (`complete` says whether it all fits)."""
        body = {"path": path, "max_chars": max_chars}
        return self._client.call(DocumentText, "POST", f"{_collection(name)}/text", json=body)

    def close(self) -> None:
        """The client's, so a caller holding either this or a DocumentLibrary can close it."""
        self._client.close()


def _collection(name: str) -> str:
    return f"{DOCUMENTS}/collections/{quote(name, safe='')}"


class ImagesApi:
    """`/hearth/images`, with the methods of the in-process ImageIndex, so the CLI takes
    either; an image is a path (relative ones mean this process's folder) or a data URL."""

    def __init__(self, client: HearthClient) -> None:
        self._client = client

    def label(
        self, image: str | Path, labels: Sequence[str] = (), top: int = 5, text: bool = True
    ) -> ImageReading:
        """CLIP's labels and, with `text`, the text read in the image."""
        body = {"image": _image(image), "labels": list(labels), "top": top, "text": text}
        return self._client.call(ImageReading, "POST", f"{IMAGES}/label", json=body)

    def index_folder(self, folder: str | Path) -> Iterator[ImageIndexEvent]:
        """Progress after each batch, then the totals (image_finished)."""
        body = {"folder": _from_here(folder), "stream": True}
        return _until_error(self._client.stream(f"{IMAGES}/index", body), ImageIndexEvent)

    def search(self, text: str, k: int = 12, cutoff: bool = True) -> list[ImageHit]:
        params = {"q": text, "k": k, "cutoff": cutoff}
        return self._client.call(list[ImageHit], "GET", f"{IMAGES}/search", params=params)

    def folders(self) -> list[IndexedFolder]:
        """The indexed folders, each marked if the current image model has not indexed it."""
        return self._client.call(list[IndexedFolder], "GET", f"{IMAGES}/folders")

    def remove_folder(self, folder: str | Path) -> IndexedFolderRemoved:
        """Forget an indexed folder; its pictures leave the search."""
        params = {"folder": _from_here(folder)}
        return self._client.call(IndexedFolderRemoved, "DELETE", f"{IMAGES}/folders", params=params)

    def similar(self, image: str | Path, k: int = 12) -> list[ImageHit]:
        body = {"image": _image(image), "k": k}
        return self._client.call(list[ImageHit], "POST", f"{IMAGES}/similar", json=body)


def _image(image: str | Path) -> str:
    return _from_here(image) if isinstance(image, Path) else image


class ModelsApi:
    """`/hearth/models`: the models Hearth can run, with their memory needs."""

    def __init__(self, client: HearthClient) -> None:
        self._client = client

    def available(self) -> list[ModelDescription]:
        return self._client.call(list[ModelDescription], "GET", MODELS)

    def describe(self, name: str) -> ModelDescription:
        return self._client.call(ModelDescription, "GET", f"{MODELS}/{quote(name, safe='')}")

    def catalog(self) -> list[CatalogEntry]:
        """The curated models worth downloading, with how each fits this machine."""
        return self._client.call(list[CatalogEntry], "GET", f"{MODELS}/catalog")

    def search_hub(self, text: str, limit: int = 20) -> list[HubSearchHit]:
        """GGUF repos on Hugging Face whose name holds `text` (the backend asks the Hub)."""
        params: dict[str, str | int] = {"search": text, "limit": limit}
        return self._client.call(list[HubSearchHit], "GET", f"{MODELS}/hub", params=params)

    def hub_repo(self, repo: str) -> HubRepo:
        """A Hugging Face repo's GGUF models and sizes (the backend asks the Hub)."""
        return self._client.call(HubRepo, "GET", f"{MODELS}/hub/{quote(repo, safe='/')}")

    def start_download(
        self,
        repo: str,
        file: str | None = None,
        quant: str | None = None,
        allow_too_big: bool = False,
    ) -> DownloadStatus:
        """Queue a download of `repo` (or a catalog id); a 409 lists the models to choose
        from, a 400 says it would not fit the disk or the RAM."""
        body = {"repo": repo, "file": file, "quant": quant, "allow_too_big": allow_too_big}
        return self._client.call(DownloadStatus, "POST", DOWNLOADS, json=body)

    def download(
        self,
        repo: str,
        file: str | None = None,
        quant: str | None = None,
        allow_too_big: bool = False,
    ) -> Iterator[DownloadEvent]:
        """Queue a download and follow it until it ends; a failed one raises BackendError.
        Closing the iterator stops following, not the download."""
        body = {"repo": repo, "file": file, "quant": quant, "allow_too_big": allow_too_big}
        return _download_events(self._client.stream(DOWNLOADS, body | {"stream": True}))

    def follow_download(self, download_id: str) -> Iterator[DownloadEvent]:
        events = self._client.stream(f"{DOWNLOADS}/{download_id}/events", None, method="GET")
        return _download_events(events)

    def downloads(self) -> list[DownloadStatus]:
        return self._client.call(list[DownloadStatus], "GET", DOWNLOADS)

    def cancel_download(self, download_id: str) -> DownloadStatus:
        """Stop it; what was fetched stays, and the same download resumes it."""
        return self._client.call(DownloadStatus, "DELETE", f"{DOWNLOADS}/{download_id}")

    def delete(self, name: str) -> None:
        """Delete a model Hearth downloaded (403 for any other: never another app's files)."""
        self._client.request("DELETE", f"{MODELS}/{quote(name, safe='')}")

    def import_gguf(self, path: str | Path, name: str | None = None) -> ModelDescription:
        """Use a GGUF file where it lies (not copied), under `name` or the file's name."""
        body = {"path": _from_here(path), "name": name}
        return self._client.call(ModelDescription, "POST", f"{MODELS}/import", json=body)

    def update_settings(self, name: str, settings: ModelSettings) -> ModelDescription:
        """Change the fields set in `settings` (None restores the global setting) of `name`'s
        own load settings; they apply at its next load."""
        body = settings.model_dump(exclude_unset=True)
        url = f"{MODELS}/{quote(name, safe='')}/settings"
        return self._client.call(ModelDescription, "PATCH", url, json=body)


def _download_events(
    events: Generator[StreamEvent, None, None],
) -> Generator[DownloadEvent, None, None]:
    for event in _until_error(events, DownloadEvent):
        yield event
        if event.state == "failed":
            raise BackendError(event.error or "the download failed")


def _wait_until_serving(layout: HomeLayout, child: subprocess.Popen[bytes]) -> BackendInfo:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise BackendError(
                f"the backend exited during start-up (code {child.returncode}); "
                f"see {layout.logs / 'backend.log'}"
            )
        info = read_backend_info(layout)
        if info is not None and info.pid == child.pid:
            return info
        time.sleep(0.05)
    child.terminate()
    raise BackendError(f"the backend did not start within {STARTUP_TIMEOUT_S:.0f} s")


def hearth_command(*args: str) -> list[str]:
    """How this process runs `hearth ARGS`: in the app bundle, its own executable is `hearth`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "backend", *args]


def start_backend(
    layout: HomeLayout, port: int | None = None
) -> tuple[subprocess.Popen[bytes], BackendInfo]:
    """Start `hearth serve` as a child process and wait until it has published its port; by
    default it serves on the settings' port, or on a free one when that is taken."""
    env = os.environ | {"HEARTH_HOME": str(layout.root)}
    port_args = () if port is None else ("--port", str(port))
    child = subprocess.Popen(
        hearth_command("serve", *port_args),
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        return child, _wait_until_serving(layout, child)
    except BaseException:  # Ctrl-C or a signal during start-up must not orphan the child
        stop_backend(child)
        raise


def stop_backend(child: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    child.terminate()
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _unwinding_on_termination() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind the stack as Ctrl-C does, so `finally` stops the backend we
    started instead of leaving it orphaned. Only the main thread may set handlers; Windows has
    no SIGHUP."""
    names = ("SIGTERM", "SIGHUP") if threading.current_thread() is threading.main_thread() else ()
    signums = [getattr(signal, name) for name in names if hasattr(signal, name)]
    previous = {signum: signal.signal(signum, _exit_on_signal) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def backend_session(layout: HomeLayout | None = None) -> Iterator[HearthClient]:
    """A client for the running backend, or for one started now and stopped afterwards."""
    layout = (layout or HomeLayout.current()).ensure()
    info = read_backend_info(layout)
    with ExitStack() as stack:
        if info is None:
            Settings.load(layout)  # a broken settings.json is named, not a failed start
            stack.enter_context(_unwinding_on_termination())
            child, info = start_backend(layout)
            stack.callback(stop_backend, child)
        yield stack.enter_context(closing(HearthClient(info.url, load_or_create_token(layout))))
