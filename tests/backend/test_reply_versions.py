"""Regenerate keeps the earlier reply as a version (issue #20): stored, shown through the API,
and the version chosen is what later turns continue from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.llm.types import ChatRequest
from tests.backend.fakes import FakeProvider, api_client, open_services


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def http(tmp_path: Path, provider: FakeProvider) -> Iterator[TestClient]:
    with api_client(open_services(tmp_path / "home", provider)) as client:
        yield client


def ask(http: TestClient, chat: str, content: str, replace_from: int | None = None) -> dict:
    body = {"content": content, "stream": False, "replace_from": replace_from}
    response = http.post(f"/hearth/conversations/{chat}/messages", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_regenerate_keeps_the_earlier_reply_and_either_can_be_shown(
    http: TestClient, provider: FakeProvider
) -> None:
    chat = http.post("/hearth/conversations", json={"title": "Radiators"}).json()["id"]
    provider.tokens = ("The", " valve", " is", " stuck.")
    first = ask(http, chat, "Why is it cold?")
    question = first["user"]["id"]
    provider.tokens = ("Air", " is", " trapped.")
    ask(http, chat, "Why is it cold?", replace_from=question)
    provider.tokens = ("Bleed", " it.")
    third = ask(http, chat, "Why is it cold?", replace_from=ask_id(http, chat))

    messages = http.get(f"/hearth/conversations/{chat}").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"], "one question, one reply"
    reply = messages[1]
    assert reply["content"] == "Bleed it." == third["assistant"]["content"]
    assert [v["content"] for v in reply["versions"]] == ["The valve is stuck.", "Air is trapped."]

    shown = http.put(
        f"/hearth/conversations/{chat}/messages/{reply['id']}/version", json={"version": 1}
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["content"] == "The valve is stuck."
    assert [v["content"] for v in shown.json()["versions"]] == ["Air is trapped.", "Bleed it."]

    ask(http, chat, "And then?")
    request = provider.requests[-1]
    assert isinstance(request, ChatRequest)
    assert request.messages[-2] == {"role": "assistant", "content": "The valve is stuck."}

    missing = http.put(
        f"/hearth/conversations/{chat}/messages/{reply['id']}/version", json={"version": 4}
    )
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "version"


def ask_id(http: TestClient, chat: str) -> int:
    """The id of the chat's last question."""
    messages = http.get(f"/hearth/conversations/{chat}").json()["messages"]
    return [m for m in messages if m["role"] == "user"][-1]["id"]


def test_an_edited_question_starts_without_versions(
    http: TestClient, provider: FakeProvider
) -> None:
    chat = http.post("/hearth/conversations", json={"title": "Radiators"}).json()["id"]
    first = ask(http, chat, "Why is it cold?")
    edited = ask(http, chat, "Why is the top cold?", replace_from=first["user"]["id"])
    assert edited["assistant"]["versions"] == []
