"""Export a chat to Markdown and JSON, import it back, and import ChatGPT's conversations.json
(issue #20): through the real routes and store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.server.services import Services
from backend.wire import Attachment, ImageLabel, Source
from tests.backend.fakes import FakeProvider, api_client, open_services

SOURCES = [
    Source(
        n=1,
        collection="manuals",
        path="/docs/radiator.pdf",
        page=3,
        snippet="Bleed the radiator with the key\nuntil water appears.",
        score=0.9,
    ),
    Source(
        n=2,
        collection="manuals",
        path="/docs/boiler.md",
        start_line=10,
        end_line=12,
        snippet="Top up the pressure to 1.5 bar.",
        score=0.7,
    ),
]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    yield open_services(tmp_path / "home", FakeProvider())


@pytest.fixture
def http(services: Services) -> Iterator[TestClient]:
    with api_client(services) as client:
        yield client


def radiator_chat(services: Services) -> str:
    chat = services.store.create("Cold radiator", system_prompt="Be brief.")
    services.store.add_message(chat.id, "user", "Why is my radiator cold at the top?")
    services.store.add_message(
        chat.id,
        "assistant",
        "Air is trapped: bleed it [1], then check the pressure [2]. Bleeding first [1].",
        model="hearth-smol",
        sources=SOURCES,
    )
    return chat.id


def test_markdown_export_cites_sources_as_footnotes(http: TestClient, services: Services) -> None:
    chat_id = radiator_chat(services)
    response = http.get(f"/hearth/conversations/{chat_id}/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# Cold radiator\n")
    assert "> System prompt: Be brief." in text
    assert "## You\n\nWhy is my radiator cold at the top?" in text
    assert "## Hearth · hearth-smol" in text
    assert "bleed it [^1], then check the pressure [^2]. Bleeding first [^1]." in text
    assert "[^1]: /docs/radiator.pdf, page 3: “Bleed the radiator with the key until" in text
    assert "[^2]: /docs/boiler.md, lines 10-12: “Top up the pressure to 1.5 bar.”" in text


def test_markdown_export_keeps_uncited_sources_and_what_was_read_in_an_image(
    http: TestClient, services: Services
) -> None:
    """The walk-through found sources the reply did not cite, an image's read text and the
    'cannot see' note missing from the Markdown, though the window shows them."""
    chat = services.store.create("Error screenshot")
    picture = Attachment(
        path="/home/x/.hearth/attachments/ab.png",
        name="error.png",
        labels=[ImageLabel(label="screen", score=0.6)],
        text="Error: connection refused\nport 5432",
        vision_note="this model cannot see the image; what it says is inferred from its labels",
    )
    services.store.add_message(chat.id, "user", "What does it say?", attachments=[picture])
    services.store.add_message(
        chat.id, "assistant", "The database refused the connection [2].", sources=SOURCES
    )
    text = http.get(f"/hearth/conversations/{chat.id}/export").text
    assert "*Image: error.png*" in text
    assert "Text read from the image:\n\n> Error: connection refused\n> port 5432" in text
    assert "*(this model cannot see the image; what it says is inferred from its labels)*" in text
    assert "Also among the sources:\n\n- /docs/radiator.pdf, page 3: “Bleed the radiator" in text
    assert "[^1]: /docs/boiler.md, lines 10-12" in text


def test_a_json_export_imports_back_as_a_new_chat(http: TestClient, services: Services) -> None:
    chat_id = radiator_chat(services)
    exported = http.get(f"/hearth/conversations/{chat_id}/export", params={"format": "json"})
    assert exported.json()["format"] == "hearth-chat"
    imported = http.post("/hearth/conversations/import", json=exported.json())
    assert imported.status_code == 201, imported.text
    [conversation] = imported.json()["conversations"]
    assert conversation["id"] != chat_id and conversation["title"] == "Cold radiator"
    assert conversation["system_prompt"] == "Be brief."
    original = services.store.messages(chat_id)
    copied = services.store.messages(conversation["id"])
    assert [(m.role, m.content, m.model, m.created_at, m.sources) for m in copied] == [
        (m.role, m.content, m.model, m.created_at, m.sources) for m in original
    ]
    listed = http.get("/hearth/conversations").json()
    assert listed[0]["id"] == conversation["id"], "an imported chat lists first"


def chatgpt_export() -> list[dict[str, object]]:
    """The shape of ChatGPT's conversations.json: a tree of nodes; a regenerated reply is a
    second child, and `current_node` is the branch that was shown."""

    def node(node_id: str, parent: str | None, role: str, parts: list[object]) -> dict[str, object]:
        message = {
            "id": node_id,
            "author": {"role": role},
            "create_time": 1_700_000_000.0 + len(node_id),
            "content": {"content_type": "text", "parts": parts},
            "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {},
        }
        return {"id": node_id, "parent": parent, "message": message}

    mapping = {
        "root": {"id": "root", "parent": None, "message": None},
        "sys": node("sys", "root", "system", [""]),
        "q": node("q", "sys", "user", ["Name a warm colour.", {"asset_pointer": "file-1"}]),
        "a1": node("a1", "q", "assistant", ["Blue."]),
        "a2": node("a2", "q", "assistant", ["Orange."]),
    }
    return [
        {
            "title": "Colours",
            "create_time": 1_700_000_000.0,
            "mapping": mapping,
            "current_node": "a2",
        }
    ]


def test_chatgpt_conversations_import_the_branch_that_was_shown(
    http: TestClient, services: Services
) -> None:
    response = http.post("/hearth/conversations/import", json=chatgpt_export())
    assert response.status_code == 201, response.text
    body = response.json()
    [conversation] = body["conversations"]
    assert conversation["title"] == "Colours"
    messages = services.store.messages(conversation["id"])
    assert [(m.role, m.content, m.model) for m in messages] == [
        ("user", "Name a warm colour.", None),
        ("assistant", "Orange.", "gpt-4o"),
    ]
    assert body["notes"] == ["'Colours': 1 non-text parts left out (images, files)"]


def test_json_that_is_no_chat_export_is_refused_with_what_was_expected(http: TestClient) -> None:
    for body in ({"messages": []}, {"format": "hearth-chat", "version": 1}, [1, 2]):
        response = http.post("/hearth/conversations/import", json=body)
        assert response.status_code == 400, body
        message = response.json()["error"]["message"]
        assert "chat export" in message, message
    broken = http.post("/hearth/conversations/import", json={"format": "hearth-chat"})
    assert "conversation" in broken.json()["error"]["message"]
