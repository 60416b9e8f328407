"""Back-pressure (#18): a bounded line of generations. Beyond it each chat route answers 429
with Retry-After in OpenAI's error shape; a request that waits says how many are ahead in its
stream's first event; and the line drains, so later requests succeed.

The scripted provider holds a reply midway, so the line fills without sleeps; the real tiny
GGUF serves the same routes with places taken straight from the server's line."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend import sse
from backend.chat.generation import Generation, GenerationTracker
from backend.chat.queue import GenerationQueue, QueueFullError
from backend.client import HearthClient
from backend.discovery import load_or_create_token
from backend.wire import DoneEvent, QueuedEvent, UserEvent
from tests.backend.conftest import prepare_home, serve_real
from tests.backend.fakes import FakeProvider
from tests.inprocess_backend import InProcessBackend, serve_in_process

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
COMPLETION = {"model": "tiny", "prompt": "Once", "max_tokens": 4}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[InProcessBackend]:
    """One reply may run and one wait: the third in line is refused."""
    backend = serve_in_process(tmp_path / "home", FakeProvider(), generation_queue_depth=1)
    yield backend
    backend.stop()
    backend.provider.close()


def http_client(backend: InProcessBackend) -> httpx.Client:
    token = load_or_create_token(backend.layout)
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=backend.info.url, headers=headers, timeout=30)


def assert_refused(response: httpx.Response) -> None:
    """A 429 in OpenAI's error shape, with a Retry-After in whole seconds."""
    assert response.status_code == 429, response.text
    assert int(response.headers["Retry-After"]) >= 1
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "queue_full" and "generation_queue_depth" in error["message"]


def next_line(lines: Iterator[str]) -> str:
    return next(line for line in lines if line)


def test_a_full_line_is_refused_on_every_route_then_drains(served: InProcessBackend) -> None:
    provider = served.provider
    provider.hold_after(1)
    with http_client(served) as http, ExitStack() as streams:
        running = streams.enter_context(
            http.stream("POST", "/v1/chat/completions", json=CHAT | {"stream": True})
        ).iter_lines()
        assert next_line(running).startswith("data: ")  # its first token: it runs
        assert provider.holding.wait(10)
        waiting = streams.enter_context(
            http.stream("POST", "/v1/completions", json=COMPLETION | {"stream": True})
        ).iter_lines()
        # Sent at once, before any token: an SSE comment that OpenAI's clients skip.
        assert next_line(waiting) == ": queued 1 ahead"

        cid = http.post("/hearth/conversations", json={}).json()["id"]
        message = {"content": "Hi", "stream": True}
        assert_refused(http.post("/v1/chat/completions", json=CHAT))
        assert_refused(http.post("/v1/chat/completions", json=CHAT | {"stream": True}))
        assert_refused(http.post("/v1/completions", json=COMPLETION | {"stream": True}))
        assert_refused(http.post(f"/hearth/conversations/{cid}/messages", json=message))
        # The refused question was not kept: the chat has no unanswered turn.
        assert http.get(f"/hearth/conversations/{cid}").json()["messages"] == []

        provider.release()
        assert list(sse.decode(running))[-1]["choices"][0]["finish_reason"] == "length"
        assert (
            "".join(c["choices"][0]["text"] for c in sse.decode(waiting)) == "Hello from the fake"
        )
    assert served.services.generations.queue.waiting() == 0
    with http_client(served) as http:  # the line drained: every route serves again
        assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
        assert http.post("/v1/completions", json=COMPLETION).status_code == 200
        asked = {"content": "Hi", "stream": False}
        reply = http.post(f"/hearth/conversations/{cid}/messages", json=asked)
        assert reply.json()["assistant"]["status"] == "complete"


def test_the_apps_stream_starts_with_its_place_in_line(served: InProcessBackend) -> None:
    provider = served.provider
    provider.hold_after(0)  # the first reply holds before its first token
    client = HearthClient(served.info.url, load_or_create_token(served.layout))
    try:
        first = client.conversations.create()
        second = client.conversations.create()
        running = client.conversations.send(first.id, "one")
        assert isinstance(next(running), UserEvent)  # no queued event: nothing was ahead
        assert provider.holding.wait(10)
        waiting = client.conversations.send(second.id, "two")
        assert next(waiting) == QueuedEvent(ahead=1)
        assert isinstance(next(waiting), UserEvent)
        provider.release()
        assert isinstance(list(running)[-1], DoneEvent)
        ended = list(waiting)[-1]
        assert isinstance(ended, DoneEvent) and ended.message.status == "complete"
    finally:
        client.close()


def test_requests_that_fail_before_generating_give_their_place_back(
    served: InProcessBackend,
) -> None:
    with http_client(served) as http:
        for _ in range(5):  # more than the line holds: a leaked place would refuse the last
            unknown = {"model": "nope"}
            assert http.post("/v1/chat/completions", json=CHAT | unknown).status_code == 404
            assert http.post("/v1/completions", json=COMPLETION | unknown).status_code == 404
            asked = {"content": "Hi", "stream": False}
            missing = http.post("/hearth/conversations/none/messages", json=asked)
            assert missing.status_code == 404
        assert served.services.generations.queue.waiting() == 0
        assert http.post("/v1/chat/completions", json=CHAT).status_code == 200


def test_the_real_engine_refuses_beyond_the_line_and_serves_once_it_moves(
    tmp_path: Path, tiny_gguf: Path
) -> None:
    layout = prepare_home(tmp_path / "home", tiny_gguf, generation_queue_depth=1)
    backend = serve_real(layout)
    queue = backend.served.services.generations.queue
    body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3}
    try:
        with backend.http() as http:
            ahead, other = queue.admit(), queue.admit()  # two requests hold the line
            ahead.join()
            assert_refused(http.post("/v1/chat/completions", json=body))
            assert_refused(http.post("/v1/completions", json={"prompt": "Hi", "max_tokens": 3}))
            other.release()
            with http.stream("POST", "/v1/chat/completions", json=body | {"stream": True}) as r:
                lines = [line for line in r.iter_lines() if line]
            assert lines[0] == ": queued 1 ahead" and lines[-1] == "data: [DONE]"
            ahead.release()
            client = backend.openai()  # OpenAI's own client takes the stream, comment and all
            ahead = queue.admit()
            ahead.join()
            chunks = list(client.chat.completions.create(model="tiny", stream=True, **body))
            assert chunks[-1].choices[0].finish_reason in {"stop", "length"}
            ahead.release()
            assert queue.waiting() == 0
            assert http.post("/v1/chat/completions", json=body).status_code == 200
    finally:
        backend.stop()


def test_the_line_counts_places_and_frees_them() -> None:
    queue = GenerationQueue(slots=1, depth=2, durations=lambda: [3.2, 4.0])
    first, second, third = queue.admit(), queue.admit(), queue.admit()
    assert [first.join(), second.join(), third.join()] == [0, 1, 2]
    with pytest.raises(QueueFullError) as refused:
        queue.admit()
    assert refused.value.status == 429
    assert refused.value.response_headers() == {"Retry-After": "4"}  # the mean, rounded up
    forced = queue.admit(force=True)  # a request's next prompt is never refused midway
    assert forced.join() == 3
    second.release()
    second.release()  # idempotent
    assert queue.waiting() == 3
    del forced
    gc.collect()  # a ticket dropped unreleased (a stream never started) frees its place
    assert queue.waiting() == 2
    assert queue.admit().join() == 2  # first and third are ahead


def test_a_launch_that_raises_gives_its_place_back() -> None:
    tracker = GenerationTracker(slots=1, queue_depth=0)

    def refuse(*_: Any) -> Future[None]:
        raise ValueError("refused before any work")

    async def start() -> None:
        with pytest.raises(ValueError):
            Generation(tracker).start(refuse)

    asyncio.run(start())
    assert tracker.queue.waiting() == 0 and not tracker.active
