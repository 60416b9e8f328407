"""Conversations through a real backend: the GUI's chat path, restarts, kills and SIGTERM."""

from __future__ import annotations

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backend.paths import HomeLayout
from tests.backend.conftest import launch, prepare_home


@pytest.fixture
def home(tmp_path: Path, tiny_gguf: Path) -> HomeLayout:
    return prepare_home(tmp_path / "home", tiny_gguf)


def test_create_rename_search_and_delete(home: HomeLayout) -> None:
    backend = launch(home)
    try:
        with backend.http() as http:
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
    finally:
        backend.stop()


def test_reply_streams_and_both_messages_are_stored(home: HomeLayout) -> None:
    backend = launch(home)
    try:
        client = backend.client()
        conversation = client.request("POST", "/hearth/conversations", json={})
        path = f"/hearth/conversations/{conversation['id']}"
        events = list(client.stream_events(f"{path}/messages", {"content": "Hello Hearth"}))
        kinds = [e["type"] for e in events]
        assert kinds[0] == "user" and kinds[-1] == "done" and "token" in kinds
        streamed = "".join(e["text"] for e in events if e["type"] == "token")
        stored = client.request("GET", path)["messages"]
        assert [m["role"] for m in stored] == ["user", "assistant"]
        assert stored[1]["content"] == streamed and stored[1]["status"] == "complete"
        assert stored[1]["timings"]["completion_tokens"] > 0
    finally:
        backend.stop()


def test_edit_and_resend_replaces_the_tail(home: HomeLayout) -> None:
    backend = launch(home)
    try:
        client = backend.client()
        cid = client.request("POST", "/hearth/conversations", json={})["id"]
        path = f"/hearth/conversations/{cid}/messages"
        first = client.request("POST", path, json={"content": "First question", "stream": False})
        client.request("POST", path, json={"content": "Second", "stream": False})
        edited = {"content": "First, edited", "stream": False, "replace_from": first["user"]["id"]}
        client.request("POST", path, json=edited)
        messages = client.request("GET", f"/hearth/conversations/{cid}")["messages"]
        assert [m["content"] for m in messages if m["role"] == "user"] == ["First, edited"]
        assert len(messages) == 2
    finally:
        backend.stop()


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


def test_requests_during_the_first_model_load_are_queued(home: HomeLayout) -> None:
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


def test_unknown_model_for_a_conversation_is_404(home: HomeLayout) -> None:
    backend = launch(home)
    try:
        with backend.http() as http:
            response = http.post("/hearth/conversations", json={"model": "nope"})
            assert response.status_code == 404
            assert json.loads(response.text)["error"]["code"] == "model_not_found"
    finally:
        backend.stop()


def test_bad_settings_are_refused_and_a_failed_request_leaves_no_unanswered_question(
    home: HomeLayout,
) -> None:
    backend = launch(home)
    try:
        with backend.http() as http:
            path = (
                f"/hearth/conversations/{http.post('/hearth/conversations', json={}).json()['id']}"
            )
            for bad in ({"temperature": "hot"}, {"max_tokens": -1000}, {"top_k": 5}):
                refused = http.patch(path, json={"settings": bad})
                assert refused.status_code == 422, bad
                assert refused.json()["error"]["code"] == "invalid_body"
            too_long = {"content": "word " * 1500, "stream": False}
            failed = http.post(f"{path}/messages", json=too_long)
            assert failed.status_code == 400
            assert failed.json()["error"]["code"] == "context_length_exceeded"
            stored = http.get(path).json()["messages"]
        assert [(m["role"], m["status"]) for m in stored] == [
            ("user", "complete"),
            ("assistant", "error"),
        ]
    finally:
        backend.stop()


def test_deleting_a_chat_mid_reply_stops_the_reply_and_ends_its_stream(home: HomeLayout) -> None:
    backend = launch(home)
    try:
        client = backend.client()
        created = client.request("POST", "/hearth/conversations", json={})
        path = f"/hearth/conversations/{created['id']}"
        client.request("PATCH", path, json={"settings": {"max_tokens": 480, "temperature": 0}})
        events = []
        for event in client.stream_events(f"{path}/messages", {"content": "A long story"}):
            events.append(event)
            if event["type"] == "token" and len(events) == 2:
                client.request("DELETE", path)
        tokens = [e for e in events if e["type"] == "token"]
        assert events[-1]["type"] == "error" and "conversation" in events[-1]["message"]
        assert len(tokens) < 480, "the reply stopped when its chat was deleted"
        last = client.request("GET", "/hearth/status")["recent"][-1]
        assert last["finish_reason"] == "cancelled"
    finally:
        backend.stop()
