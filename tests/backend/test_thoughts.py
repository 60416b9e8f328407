"""A reasoning model's thoughts stay out of later prompts, and a chat can ask a model that does
not reason on its own to think step by step (issue #20)."""

from __future__ import annotations

from pathlib import Path

from backend.llm.thoughts import STEP_BY_STEP, without_thoughts
from backend.llm.types import ChatRequest
from tests.backend.fakes import FakeProvider, api_client, open_services


def test_thoughts_are_cut_whether_the_reply_or_the_template_opened_them() -> None:
    assert without_thoughts("<think>Add 2 and 2.\nIt is 4.</think>\n\nFour.") == "Four."
    assert without_thoughts("Add 2 and 2.</think>Four.") == "Four.", "opened by the template"
    assert without_thoughts("<think>still thinking") == "", "cut off while thinking"
    assert without_thoughts("Four, with no thoughts.") == "Four, with no thoughts."


def test_later_prompts_leave_out_thoughts_and_step_by_step_asks_for_them(tmp_path: Path) -> None:
    provider = FakeProvider()
    services = open_services(tmp_path / "home", provider)
    chat = services.store.create("Sums", system_prompt="Be brief.")
    services.store.add_message(chat.id, "user", "What is 2 + 2?")
    services.store.add_message(
        chat.id, "assistant", "<think>2 and 2 make 4.</think>Four.", model="tiny"
    )
    with api_client(services) as http:
        changed = http.patch(
            f"/hearth/conversations/{chat.id}", json={"settings": {"think_step_by_step": True}}
        )
        assert changed.json()["settings"] == {"think_step_by_step": True}
        reply = http.post(
            f"/hearth/conversations/{chat.id}/messages",
            json={"content": "And 3 + 3?", "stream": False},
        )
        assert reply.status_code == 200, reply.text
    request = provider.requests[-1]
    assert isinstance(request, ChatRequest)
    assert request.messages[0] == {"role": "system", "content": f"Be brief.\n\n{STEP_BY_STEP}"}
    assert request.messages[2] == {"role": "assistant", "content": "Four."}
