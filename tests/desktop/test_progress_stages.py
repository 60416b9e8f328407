"""Before its first token a reply shows what it is doing (its stage), not a bare "Writing…"."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from backend.documents.grounding import NOTHING_FOUND
from backend.llm.types import ChatRequest, EventSink, Stage
from desktop.main_window import MainWindow
from tests.desktop.conftest import REPLY_TIMEOUT_MS, REPLY_TOKENS
from tests.desktop.test_chat import stored_messages, type_and_send, wait_for_reply
from tests.desktop.test_screenshots import save, screenshot_dir  # noqa: F401
from tests.inprocess_backend import InProcessBackend


def report_stages(backend: InProcessBackend, *stages: Stage) -> None:
    """The fake model reports `stages` before its tokens, as llama.cpp's runtime does."""
    provider = backend.provider
    start_chat = provider.start_chat

    def with_stages(request: ChatRequest, sink: EventSink, cancel: threading.Event) -> Future[None]:
        for stage in stages:
            sink(stage)
        return start_chat(request, sink, cancel)

    provider.start_chat = with_stages  # type: ignore[method-assign]


def test_a_reply_shows_its_stage_before_the_first_token(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
    screenshot_dir: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    report_stages(
        fake_backend, Stage("loading", model="tiny"), Stage("reading", done=0, total=1_200)
    )
    fake_backend.provider.hold_after(0)  # no token yet
    type_and_send(qtbot, window, "a question")
    qtbot.waitUntil(lambda: fake_backend.provider.holding.is_set(), timeout=REPLY_TIMEOUT_MS)
    reply = lambda: window.chat_view.views[-1]  # noqa: E731
    qtbot.waitUntil(
        lambda: (
            bool(window.chat_view.views)
            and reply().note.text() == "Reading the prompt, 0 of 1,200 tokens…"
        ),
        timeout=REPLY_TIMEOUT_MS,
    )
    assert reply().message.role == "assistant" and reply().message.content == ""
    save(window, screenshot_dir / "progress-stage.png")
    fake_backend.provider.release()
    wait_for_reply(qtbot, window)
    assert reply().message.content == "".join(REPLY_TOKENS)
    assert reply().note.text() != "Reading the prompt, 0 of 1,200 tokens…"


def test_the_question_shows_while_the_documents_are_searched(
    qtbot,  # type: ignore[no-untyped-def]
    window: MainWindow,
    fake_backend: InProcessBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The search runs inside the stream, before the question is stored: the app shows the
    question and "Searching documents…" at once, and the stored question once it is kept."""
    from backend.chat import turn

    searching, searched = threading.Event(), threading.Event()

    def slow_search(*_: object) -> list[object]:
        searching.set()
        searched.wait(timeout=30)
        return []  # nothing relevant: the honest fixed reply

    monkeypatch.setattr(turn.PlannedTurn, "searches_documents", property(lambda _: True))
    monkeypatch.setattr(turn, "find_sources", slow_search)
    type_and_send(qtbot, window, "What does the manual say?")
    qtbot.waitUntil(searching.is_set, timeout=REPLY_TIMEOUT_MS)
    views = window.chat_view.views
    qtbot.waitUntil(lambda: len(views) == 2 and views[-1].note.text() == "Searching documents…")
    assert views[0].message.content == "What does the manual say?"
    assert stored_messages(window) == []  # not kept until the search is done
    searched.set()
    wait_for_reply(qtbot, window)
    qtbot.waitUntil(lambda: views[-1].message.content == NOTHING_FOUND)
    assert views[0].message.id == stored_messages(window)[0]["id"]
