"""Conversations over HTTP: routes in process on a scripted provider; restarts, kills, SIGTERM
and the first model load through a real backend.

The chat turn itself (interrupts, deletes mid-reply, failures) is tested in test_chat_turn.py."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend import sse
from backend.llm.context_window import PromptTooLongError
from backend.paths import HomeLayout
from tests.backend.conftest import launch, prepare_home
from tests.backend.fakes import FakeProvider, api_client, open_services

TOKEN = "test-token"


@pytest.fixture
def home(tmp_path: Path, tiny_gguf: Path) -> HomeLayout:
    return prepare_home(tmp_path / "home", tiny_gguf)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def http(tmp_path: Path, provider: FakeProvider) -> Iterator[TestClient]:
    """The real app in process: its routes, store and registry, on the scripted provider."""
    with api_client(open_services(tmp_path / "home", provider)) as client:
        yield client


def stream_events(http: TestClient, path: str, body: dict[str, object]) -> list[dict[str, Any]]:
    with http.stream("POST", path, json=body) as response:
        return list(sse.decode(response.iter_lines()))


def test_create_rename_search_and_delete(http: TestClient) -> None:
    created = http.post("/hearth/conversations", json={"title": "Trip plans"}).json()
    http.post("/hearth/conversations", json={"title": "Recipes"})
    renamed = http.patch(f"/hearth/conversations/{created['id']}", json={"title": "Italy"})
    assert renamed.json()["title"] == "Italy"
    found = http.get("/hearth/conversations", params={"q": "ital"}).json()
    assert [c["id"] for c in found] == [created["id"]]
    assert http.delete(f"/hearth/conversations/{created['id']}").status_code == 204
    missing = http.get(f"/hearth/conversations/{created['id']}")
    assert missing.status_code == 404
    assert "conversation" in missing.json()["error"]["message"]


def test_reply_streams_and_both_messages_are_stored(http: TestClient) -> None:
    conversation = http.post("/hearth/conversations", json={}).json()
    path = f"/hearth/conversations/{conversation['id']}"
    events = stream_events(http, f"{path}/messages", {"content": "Hello Hearth"})
    kinds = [e["type"] for e in events]
    assert kinds[0] == "user" and kinds[-1] == "done" and "token" in kinds
    streamed = "".join(e["text"] for e in events if e["type"] == "token")
    stored = http.get(path).json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["content"] == streamed and stored[1]["status"] == "complete"
    assert stored[1]["timings"]["completion_tokens"] > 0
    assert events[-1]["message"] == stored[1]


def test_edit_and_resend_replaces_the_tail(http: TestClient) -> None:
    cid = http.post("/hearth/conversations", json={}).json()["id"]
    path = f"/hearth/conversations/{cid}/messages"
    first = http.post(path, json={"content": "First question", "stream": False}).json()
    http.post(path, json={"content": "Second", "stream": False})
    edited = {"content": "First, edited", "stream": False, "replace_from": first["user"]["id"]}
    http.post(path, json=edited)
    messages = http.get(f"/hearth/conversations/{cid}").json()["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["First, edited"]
    assert len(messages) == 2


def test_unknown_model_for_a_conversation_is_404(http: TestClient) -> None:
    response = http.post("/hearth/conversations", json={"model": "nope"})
    assert response.status_code == 404
    assert json.loads(response.text)["error"]["code"] == "model_not_found"


def test_settings_are_stored_as_given_and_bad_ones_refused(http: TestClient) -> None:
    path = f"/hearth/conversations/{http.post('/hearth/conversations', json={}).json()['id']}"
    for bad in ({"temperature": "hot"}, {"max_tokens": -1000}, {"top_k": 5}):
        refused = http.patch(path, json={"settings": bad})
        assert refused.status_code == 400, bad
        error = refused.json()["error"]
        assert error["param"] == f"settings.{next(iter(bad))}", error
    chosen = {"temperature": 0.2, "top_p": 0.95, "max_tokens": 64}
    assert http.patch(path, json={"settings": chosen}).json()["settings"] == chosen
    assert http.patch(path, json={"settings": None}).json()["settings"] == {}


def test_a_failed_request_leaves_no_unanswered_question(
    http: TestClient, provider: FakeProvider
) -> None:
    path = f"/hearth/conversations/{http.post('/hearth/conversations', json={}).json()['id']}"
    provider.fail_with(PromptTooLongError("the prompt needs 7500 tokens but only 512 fit"))
    failed = http.post(f"{path}/messages", json={"content": "word " * 1500, "stream": False})
    assert failed.status_code == 400
    assert failed.json()["error"]["code"] == "context_length_exceeded"
    stored = http.get(path).json()["messages"]
    assert [(m["role"], m["status"]) for m in stored] == [
        ("user", "complete"),
        ("assistant", "error"),
    ]


def test_conversations_survive_a_restart_and_sigterm_is_clean(home: HomeLayout) -> None:
    backend = launch(home)
    client = backend.client()
    cid = client.request("POST", "/hearth/conversations", json={"title": "Keep me"})["id"]
    reply = client.request(
        "POST", f"/hearth/conversations/{cid}/messages", json={"content": "Hi", "stream": False}
    )
    client.close()
    assert backend.stop() == 0, "SIGTERM must shut down cleanly"
    assert not home.backend_info.exists(), "backend.json is removed on shutdown"

    again = launch(home)
    try:
        stored = again.client().request("GET", f"/hearth/conversations/{cid}")
        assert stored["conversation"]["title"] == "Keep me"
        assert [m["content"] for m in stored["messages"]] == ["Hi", reply["assistant"]["content"]]
    finally:
        again.stop()


def test_finished_messages_survive_sigkill(home: HomeLayout) -> None:
    backend = launch(home)
    client = backend.client()
    cid = client.request("POST", "/hearth/conversations", json={})["id"]
    for text in ("one", "two"):
        client.request(
            "POST", f"/hearth/conversations/{cid}/messages", json={"content": text, "stream": False}
        )
    os.kill(backend.process.pid, signal.SIGKILL)
    backend.process.wait()

    again = launch(home)
    try:
        messages = again.client().request("GET", f"/hearth/conversations/{cid}")["messages"]
        assert [m["content"] for m in messages if m["role"] == "user"] == ["one", "two"]
        assert all(m["status"] == "complete" for m in messages) and len(messages) == 4
    finally:
        again.stop()


def test_requests_during_the_first_model_load_are_queued(tmp_path: Path, tiny_gguf: Path) -> None:
    # Six at once: one generates and five wait, which the line must hold (four by default).
    home = prepare_home(tmp_path / "home", tiny_gguf, generation_queue_depth=5)
    backend = launch(home)  # nothing is loaded until the first request
    try:

        def ask(i: int) -> int:
            with backend.http() as http:
                body = {"messages": [{"role": "user", "content": f"q{i}"}], "max_tokens": 4}
                return http.post("/v1/chat/completions", json=body).status_code

        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(ask, range(6))) == [200] * 6
    finally:
        backend.stop()
