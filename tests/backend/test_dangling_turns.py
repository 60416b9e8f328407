"""No dangling turns: a reply's row exists from its first token, so a server killed mid-reply
leaves the question answered by an interrupted reply, never two user turns in a row (#18)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from backend.chat import runner
from backend.chat.turn import Question, prepare_turn
from backend.llm.context_window import PromptTooLongError
from backend.paths import HomeLayout
from backend.store import ConversationStore
from backend.store.migrations import MIGRATIONS
from tests.backend.conftest import RunningBackend, launch, prepare_home
from tests.backend.fakes import FakeProvider, Services, open_services
from training.testing import build_tiny_gguf

SHORT_REPLY_S = 30  # how long the paced model may take to say its first words


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def services(tmp_path: Path, provider: FakeProvider) -> Iterator[Services]:
    opened = open_services(tmp_path / "home", provider)
    yield opened
    opened.close()


def test_the_migration_keeps_messages_and_accepts_generating(tmp_path: Path) -> None:
    db = tmp_path / "hearth.db"
    with closing(sqlite3.connect(db)) as old, old:  # a version 2 database with an exchange
        for _version, statements in MIGRATIONS[:2]:
            for statement in statements:
                old.execute(statement)
        old.execute("PRAGMA user_version = 2")
        old.execute("INSERT INTO conversations VALUES ('c', 'Old', 1, 1, NULL, NULL, '{}', '[]')")
        old.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at, status)"
            " VALUES ('c', 'user', 'Hi', 1, 'complete'), ('c', 'assistant', 'Hel', 2, 'error')"
        )
    with ConversationStore(db) as store:
        reply = store.add_message("c", "assistant", "", status="generating")
        store.update_message("c", reply.id, "Hello", status="generating")
        assert store.interrupt_unfinished() == 1
        assert [(m.id, m.content, m.status) for m in store.messages("c")] == [
            (1, "Hi", "complete"),
            (2, "Hel", "error"),
            (3, "Hello", "interrupted"),
        ]
        assert store.interrupt_unfinished() == 0


def test_a_reply_is_stored_as_generating_before_its_first_token(
    services: Services, provider: FakeProvider
) -> None:
    cid = services.store.create().id
    seen: list[tuple[str, str]] = []
    turn = prepare_turn(services, cid, Question("Tell me a story"))

    async def first_event() -> None:
        replies = runner.stream_reply(services, turn)
        await anext(replies)  # the question: the reply's row is already there
        seen.extend((m.role, m.status) for m in services.store.messages(cid))
        await replies.aclose()

    asyncio.run(first_event())
    assert seen == [("user", "complete"), ("assistant", "generating")]
    assert services.store.messages(cid)[-1].status == "interrupted"


def test_a_question_whose_reply_failed_is_left_out_of_the_next_prompt(
    services: Services, provider: FakeProvider
) -> None:
    cid = services.store.create().id
    provider.fail_with(PromptTooLongError("the prompt needs 9000 tokens but only 512 fit"))
    with pytest.raises(PromptTooLongError):
        asyncio.run(runner.reply(services, prepare_turn(services, cid, Question("Too long"))))
    turn = prepare_turn(services, cid, Question("Shorter"))
    assert [m["role"] for m in turn.request.messages] == ["user"]


@pytest.fixture(scope="module")
def paced_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wide enough that a long reply takes several seconds: time to kill the server in it."""
    path = tmp_path_factory.mktemp("models") / "paced.gguf"
    return build_tiny_gguf(path, hidden_size=512, num_layers=4, context_length=2048)


def _ask_in_background(backend: RunningBackend, cid: str, content: str) -> threading.Thread:
    def ask() -> None:
        body = {"content": content, "stream": True}
        try:
            with (
                backend.http() as http,
                http.stream("POST", f"/hearth/conversations/{cid}/messages", json=body) as response,
            ):
                for _ in response.iter_lines():
                    pass
        except Exception:  # the server is killed under it: that is the point
            pass

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    return thread


def _partial_reply(backend: RunningBackend, cid: str) -> str:
    """Wait until the reply's row holds some text while it is still generating."""
    deadline = time.monotonic() + SHORT_REPLY_S
    with backend.http() as http:
        while time.monotonic() < deadline:
            messages = http.get(f"/hearth/conversations/{cid}").json()["messages"]
            last = messages[-1] if messages else {"role": "user", "status": "complete"}
            if last["role"] == "assistant" and last["status"] == "generating" and last["content"]:
                return str(last["content"])
            assert last["status"] in {"complete", "generating"}, last
            assert not (last["role"] == "assistant" and last["status"] == "complete"), (
                "the reply ended before the server could be killed"
            )
            time.sleep(0.05)
    raise AssertionError("the reply never started")


def test_a_server_killed_mid_reply_leaves_an_interrupted_reply(
    tmp_path: Path, paced_gguf: Path
) -> None:
    home: HomeLayout = prepare_home(tmp_path / "home", paced_gguf, threads=1, context_size=2048)
    backend = launch(home)
    with backend.http() as http:
        cid = http.post("/hearth/conversations", json={}).json()["id"]
        settings = {"max_tokens": 1500, "seed": 7}
        http.patch(f"/hearth/conversations/{cid}", json={"settings": settings})
    _ask_in_background(backend, cid, "Tell me a long story")
    partial = _partial_reply(backend, cid)
    os.kill(backend.process.pid, signal.SIGKILL)
    backend.process.wait()

    again = launch(home)
    try:
        with again.http() as http:
            messages = http.get(f"/hearth/conversations/{cid}").json()["messages"]
            assert [(m["role"], m["status"]) for m in messages] == [
                ("user", "complete"),
                ("assistant", "interrupted"),
            ]
            assert messages[1]["content"].startswith(partial)
    finally:
        again.stop()
    # The next prompt answers the question with the partial reply: no two user turns in a row.
    services = open_services(home.root, FakeProvider(models=("paced",)), default_model="paced")
    try:
        turn = prepare_turn(services, cid, Question("Go on"))
    finally:
        services.close()
    assert [m["role"] for m in turn.request.messages] == ["user", "assistant", "user"]
