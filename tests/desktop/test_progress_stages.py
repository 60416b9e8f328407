"""Before its first token a reply shows what it is doing (its stage), not a bare "Writing…"."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

from backend.llm.types import ChatRequest, EventSink, Stage
from desktop.main_window import MainWindow
from tests.desktop.conftest import REPLY_TIMEOUT_MS, REPLY_TOKENS
from tests.desktop.test_chat import type_and_send, wait_for_reply
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
