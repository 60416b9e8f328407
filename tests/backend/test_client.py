"""HearthClient against the real backend app over HTTP (served in this process, its chat model
scripted, its embedder and tiny CLIP real), and every stream event through the SSE encoder and
decoder."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from backend import sse
from backend.client import BackendError, HearthClient
from backend.discovery import load_or_create_token
from backend.images.service import ImageService
from backend.wire import (
    DoneEvent,
    ErrorEvent,
    ImageIndexEvent,
    IngestEvent,
    Message,
    TokenEvent,
    UserEvent,
)
from tests.backend.conftest import TinyClip
from tests.backend.fakes import FakeProvider
from tests.inprocess_backend import serve_in_process

MESSAGE = Message(id=7, conversation_id="abc", role="assistant", content="Hi [1]", created_at=1.5)
EVENTS: list[BaseModel] = [
    UserEvent(message=MESSAGE.model_copy(update={"role": "user"})),
    TokenEvent(text="naïve “quotes”\nand a new line"),
    DoneEvent(message=MESSAGE),
    ErrorEvent(message="model 'x' not found", code="model_not_found", error_type="not_found_error"),
    *(
        IngestEvent(type=step, collection="notes", path="/n/a.md", detail="why", files_total=3)
        for step in ("planned", "indexed", "unchanged", "failed", "skipped", "removed", "finished")
    ),
    IngestEvent(type="searchable", collection="notes", files_done=3, files_total=3),
    IngestEvent(
        type="embedded", collection="notes", phase="embed", chunks_embedded=64, chunks_to_embed=90
    ),
    ImageIndexEvent(done=16, total=40, current="/p/cat.png", failures={"/p/x.png": "broken"}),
    ImageIndexEvent(type="image_finished", done=40, total=40, embedded=39),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: getattr(e, "type", "?"))
def test_every_stream_event_comes_back_as_it_was_sent(event: BaseModel) -> None:
    encoded = sse.encode(event)
    assert list(sse.decode_events(encoded.splitlines())) == [event]


def test_an_event_of_unknown_type_is_refused() -> None:
    with pytest.raises(ValidationError):
        list(sse.decode_events(['data: {"type": "progress", "done": 1, "total": 2}']))


def test_an_indexing_run_that_fails_midway_ends_its_stream_with_the_error() -> None:
    """The status line has gone out by then: the reason travels as the last event."""
    from backend.documents.errors import UnknownCollectionError
    from backend.server.routes.documents import _sse

    def run() -> Iterator[IngestEvent]:
        yield IngestEvent(type="planned", collection="notes", files_total=2)
        raise UnknownCollectionError("collection 'notes' was removed while it was indexed")

    async def lines() -> list[str]:
        return [line async for line in _sse(run())]

    first, last = sse.decode_events("".join(asyncio.run(lines())).splitlines())
    assert isinstance(first, IngestEvent) and first.type == "planned"
    assert isinstance(last, ErrorEvent) and last.code == "collection_not_found"
    assert "removed while it was indexed" in last.message


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, tiny_clip: TinyClip
) -> Iterator[HearthClient]:
    """A client of the backend app served in process: the tiny model listed (its replies
    scripted) and the tiny CLIP for images."""
    home = tmp_path_factory.mktemp("home")
    (home / "models").mkdir()
    shutil.copy(tiny_gguf, home / "models" / tiny_gguf.name)
    tiny_clip.install(home)
    provider = FakeProvider(models=(tiny_gguf.stem,))
    backend = serve_in_process(
        home, provider, default_model=tiny_gguf.stem, image_model=tiny_clip.name
    )
    services = backend.services
    # The images are the client's subject too: the real service, not the fake one.
    services.images = ImageService(backend.layout, services.settings, services.vectors)
    token = load_or_create_token(backend.layout)
    with closing(HearthClient(backend.info.url, token)) as client:
        yield client
    backend.stop()
    provider.close()


def test_conversations_and_a_streamed_turn(client: HearthClient) -> None:
    assert client.health().status == "ok"
    created = client.conversations.create("Client test")
    changed = client.conversations.update(created.id, settings={"max_tokens": 4})
    assert changed.settings.max_tokens == 4
    events = list(client.conversations.send(created.id, "Hello"))
    assert isinstance(events[0], UserEvent) and events[0].message.content == "Hello"
    assert all(isinstance(e, TokenEvent) for e in events[1:-1])
    assert isinstance(events[-1], DoneEvent) and events[-1].message.role == "assistant"
    detail = client.conversations.get(created.id)
    assert [m.id for m in detail.messages] == [events[0].message.id, events[-1].message.id]
    assert created.id in {c.id for c in client.conversations.find("Client test")}
    client.conversations.delete(created.id)
    with pytest.raises(BackendError) as missing:
        client.conversations.get(created.id)
    assert missing.value.status == 404


def test_a_collection_is_indexed_searched_and_removed(client: HearthClient, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Heron\n\nThe grey heron waits by the river.\n")
    (tmp_path / "broken.json").write_text('{"open": ')
    events = list(client.documents.add("client-notes", [tmp_path]))
    assert (events[0].type, events[-1].type) == ("planned", "finished")
    assert {(Path(e.path).name, e.type) for e in events[1:-1] if e.path} == {
        ("notes.md", "indexed"),
        ("broken.json", "failed"),
    }
    assert [e.type for e in events if not e.path][1:-1] == ["searchable", "embedded"]
    assert client.documents.collection("client-notes").files == 2
    assert {f.status for f in client.documents.files("client-notes")} == {"indexed", "failed"}
    (hit,) = client.documents.search("Where does the heron wait?", ["client-notes"], k=1)
    assert hit.source == str(tmp_path / "notes.md") and "river" in hit.text
    assert [e.type for e in client.documents.sync("client-notes")][-1] == "finished"
    client.documents.remove("client-notes")
    assert "client-notes" not in {c.name for c in client.documents.collections()}
    with pytest.raises(BackendError, match="client-notes"):
        list(client.documents.sync("client-notes"))


def test_models_are_described(client: HearthClient, tiny_gguf: Path) -> None:
    models = {model.name: model for model in client.models.available()}
    tiny = models[tiny_gguf.stem]
    assert tiny.source == "user" and tiny.file_size == tiny_gguf.stat().st_size
    assert tiny.memory.fits and not tiny.vision
    described = client.models.describe(tiny.name)  # free memory moves between the two calls
    assert described.model_dump(exclude={"memory"}) == tiny.model_dump(exclude={"memory"})


def test_a_folder_of_images_is_indexed_with_progress_then_searched(
    client: HearthClient, tmp_path: Path
) -> None:
    from PIL import Image

    for i, colour in enumerate(("red", "green", "blue")):
        Image.new("RGB", (32, 32), colour).save(tmp_path / f"{i}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    events = list(client.images.index_folder(tmp_path))
    assert all(e.type == "image_progress" for e in events[:-1])
    last = events[-1]
    assert (last.type, last.done, last.total, last.embedded) == ("image_finished", 4, 4, 3)
    assert list(last.failures) == [str(tmp_path / "broken.png")]
    assert len(client.images.search("a red square", k=2)) == 2
    twin = client.images.similar(tmp_path / "1.png", k=1)[0]
    assert twin.path == str(tmp_path / "1.png") and twin.score > 0.999
    labels = client.images.label(tmp_path / "0.png", ["red", "green"]).labels
    assert sum(label.score for label in labels) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(BackendError, match="not a folder"):
        list(client.images.index_folder(tmp_path / "missing"))
