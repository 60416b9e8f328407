"""The GUI's workers: long streams never hold up a short task."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from desktop.workers import StreamOperation, TaskRunner

STREAMS = 6  # more than the runner's threads of either kind: a pool shared by both would be full


def test_a_short_task_runs_while_streams_fill_the_runner(qtbot) -> None:  # type: ignore[no-untyped-def]
    runner = TaskRunner()
    release = threading.Event()
    started = threading.Semaphore(0)

    def endless_reply() -> Iterator[str]:
        yield "first token"
        started.release()
        release.wait(timeout=30)  # a reply that lasts as long as the test needs it to

    streams = [StreamOperation(endless_reply) for _ in range(STREAMS)]
    answers: list[str] = []
    try:
        for stream in streams:
            runner.start(stream)
        assert started.acquire(timeout=10), "the first streams are running"
        runner.submit(lambda: "healthy", answers.append)  # the health probe, say
        qtbot.waitUntil(lambda: answers == ["healthy"], timeout=5_000)
        assert not runner.idle, "the streams were still running meanwhile"
    finally:
        release.set()
        assert runner.wait(10_000)
    qtbot.waitUntil(lambda: runner.idle)
