"""Hearth's own chats have bounded, sane replies (a default limit, small repetition penalties, a
loop detector); the OpenAI API keeps OpenAI's semantics: no limit and no penalties unless asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend import sse
from backend.llm.types import ChatRequest, SamplingParams
from backend.server.app import create_app
from tests.backend.conftest import InProcessRealBackend
from tests.backend.fakes import FakeProvider, open_services

TOKEN = "test-token"
LOOPING = {"temperature": 0, "repeat_penalty": 1.0, "frequency_penalty": 0.0}


def scripted_client(tmp_path: Path, provider: FakeProvider, **settings: object) -> TestClient:
    app = create_app(open_services(tmp_path / "home", provider, **settings), TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return TestClient(app, base_url="http://localhost", headers=headers)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def http(tmp_path: Path, provider: FakeProvider) -> Iterator[TestClient]:
    with scripted_client(tmp_path, provider) as client:
        yield client


def ask(http: Any, settings: dict[str, object] | None = None) -> dict[str, Any]:
    """A new chat with these settings answers one question; the exchange, as stored."""
    cid = http.post("/hearth/conversations", json={}).json()["id"]
    if settings is not None:
        http.patch(f"/hearth/conversations/{cid}", json={"settings": settings}).raise_for_status()
    body = {"content": "Tell me a story", "stream": False}
    exchange: dict[str, Any] = http.post(f"/hearth/conversations/{cid}/messages", json=body).json()
    return exchange


def last_params(provider: FakeProvider) -> SamplingParams:
    request = provider.requests[-1]
    assert isinstance(request, ChatRequest)
    return request.params


def test_a_chat_reply_is_bounded_and_penalised_by_default(
    http: TestClient, provider: FakeProvider
) -> None:
    ask(http)
    params = last_params(provider)
    assert params.max_tokens == 1024  # the default; the context (4096) allows it
    assert (params.repeat_penalty, params.frequency_penalty) == (1.1, 0.1)
    assert params.stop_repetition


def test_the_default_limit_is_at_most_half_the_context(
    tmp_path: Path, provider: FakeProvider
) -> None:
    with scripted_client(tmp_path, provider, context_size=1024) as http:
        ask(http)
    assert last_params(provider).max_tokens == 512


def test_no_limit_is_a_deliberate_choice_in_settings(
    tmp_path: Path, provider: FakeProvider
) -> None:
    with scripted_client(tmp_path, provider, max_reply_tokens=0) as http:
        ask(http)
    assert last_params(provider).max_tokens is None


def test_a_chat_chooses_its_own_limit_and_penalties(tmp_path: Path, provider: FakeProvider) -> None:
    with scripted_client(tmp_path, provider) as http:
        ask(http, {"max_tokens": 0})
        assert last_params(provider).max_tokens is None
        chosen = {"max_tokens": 64, "repeat_penalty": 1.3, "frequency_penalty": 0.5}
        ask(http, chosen)
        params = last_params(provider)
        assert (params.max_tokens, params.repeat_penalty, params.frequency_penalty) == (
            64,
            1.3,
            0.5,
        )


def test_the_openai_api_has_no_default_limit_penalties_or_loop_detector(
    http: TestClient, provider: FakeProvider
) -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}]}
    assert http.post("/v1/chat/completions", json=body).status_code == 200
    params = last_params(provider)
    assert params.max_tokens is None
    assert (params.repeat_penalty, params.frequency_penalty, params.presence_penalty) == (
        1.0,
        0.0,
        0.0,
    )
    assert not params.stop_repetition


def test_a_looping_reply_is_stopped_and_stored_as_repetition(
    backend: InProcessRealBackend,
) -> None:
    """The tiny random model, greedy and unpenalised, falls into a cycle ("!!!!", "ass ass")."""
    with backend.http() as http:
        exchange = ask(http, LOOPING)
        cid = exchange["assistant"]["conversation_id"]
        stored = http.get(f"/hearth/conversations/{cid}").json()["messages"][-1]
    report = exchange["assistant"]["timings"]
    assert report["finish_reason"] == "repetition"
    # Stopped by the detector, well before the limit (half of the 512-token context).
    assert report["completion_tokens"] < 256
    assert stored["timings"]["finish_reason"] == "repetition"
    assert stored["content"] == exchange["assistant"]["content"]


def test_the_stream_ends_with_the_repetition_reported(backend: InProcessRealBackend) -> None:
    with backend.http() as http:
        cid = http.post("/hearth/conversations", json={}).json()["id"]
        http.patch(f"/hearth/conversations/{cid}", json={"settings": LOOPING})
        path = f"/hearth/conversations/{cid}/messages"
        with http.stream("POST", path, json={"content": "Tell me a story"}) as response:
            events = list(sse.decode(response.iter_lines()))
    assert events[-1]["type"] == "done"
    assert events[-1]["message"]["timings"]["finish_reason"] == "repetition"


def test_the_same_loop_through_the_openai_api_runs_to_its_limit(
    backend: InProcessRealBackend,
) -> None:
    """Without the detector (OpenAI has no "repetition"), the loop goes on to max_tokens."""
    body = {
        "messages": [{"role": "user", "content": "Tell me a story"}],
        "max_tokens": 200,
        "temperature": 0,
    }
    with backend.http() as http:
        reply = http.post("/v1/chat/completions", json=body).json()
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == 200
