"""A conversation's stream says what its reply is doing before the first token: searching the
documents, loading the model, reading the prompt batch by batch, writing."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from backend.llm.runtime import _Resident
from backend.llm.types import ProviderEvent, SamplingParams, Stage
from tests.backend.conftest import InProcessRealBackend
from tests.backend.test_documents_chat import grounded_conversation, served  # noqa: F401
from training.testing import build_tiny_gguf

QUESTION = "What is the lighthouse keeper's cat called?"


def test_a_documents_answer_streams_its_stages_in_order(
    served: InProcessRealBackend,  # noqa: F811 (the fixture imported above)
) -> None:
    cid = grounded_conversation(served)
    path = f"/hearth/conversations/{cid}/messages"
    events = list(served.client().stream_events(path, {"content": QUESTION}))
    first_token = next(i for i, e in enumerate(events) if e["type"] == "token")
    before = events[:first_token]
    assert [e["type"] for e in before[:2]] == ["stage", "user"]
    assert before[0]["stage"] == "searching"
    stages = [e for e in before[2:] if e["type"] == "stage"]
    names = [e["stage"] for e in stages]
    # This backend has not run its documents model yet: it loads first.
    assert names[0] == "loading" and stages[0]["model"] == "tiny-docs"
    assert names[-1] == "writing" and set(names[1:-1]) == {"reading"}
    read = [(e["done"], e["total"]) for e in stages if e["stage"] == "reading"]
    total = read[0][1]
    assert read[0][0] == 0 and read[-1] == (total, total)
    assert [done for done, _ in read] == sorted({done for done, _ in read})
    assert all(t == total for _, t in read)
    assert total > 100 and len(read) >= 2  # batch by batch: the runtime test below
    assert events[-1]["type"] == "done" and events[-1]["message"]["status"] == "complete"


def test_a_search_that_fails_leaves_the_conversation_as_it_was(
    served: InProcessRealBackend,  # noqa: F811 (the fixture imported above)
    monkeypatch: Any,
) -> None:
    cid = grounded_conversation(served)
    library = served.served.services.documents

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("the index broke")

    monkeypatch.setattr(library, "search", broken)
    path = f"/hearth/conversations/{cid}/messages"
    events = list(served.client().stream_events(path, {"content": QUESTION}))
    assert [e["type"] for e in events] == ["stage", "error"]
    with served.http() as http:
        assert http.get(f"/hearth/conversations/{cid}").json()["messages"] == []


def sampled(resident: _Resident, prompt: list[int], report: Any, count: int) -> list[int]:
    """The first `count` greedy tokens after `prompt`, read from scratch."""
    resident.llama.reset()
    params = SamplingParams(temperature=0.0)
    tokens = resident.sample(prompt, params, threading.Event(), None, report)
    return [token for token, _ in zip(tokens, range(count), strict=False)]


def test_prompt_reading_is_reported_after_each_batch_with_the_same_tokens(
    tmp_path: Path,
) -> None:
    from llama_cpp import Llama

    model = build_tiny_gguf(tmp_path / "tiny-2k.gguf", context_length=2048)
    llama = Llama(model_path=str(model), n_ctx=2048, n_batch=128, verbose=False)
    try:
        resident = _Resident(entry=None, llama=llama, n_ctx=2048)  # type: ignore[arg-type]
        prompt = [(7 * i) % 200 + 10 for i in range(600)]
        heard: list[ProviderEvent] = []
        started = time.perf_counter()
        reported = sampled(resident, prompt, heard.append, 8)
        with_reports = time.perf_counter() - started
        started = time.perf_counter()
        plain = sampled(resident, prompt, None, 8)
        without = time.perf_counter() - started
    finally:
        llama.close()
    assert reported == plain  # the same prompt, read in the same batches
    assert heard == [
        *(Stage("reading", done=done, total=600) for done in [0, 128, 256, 384, 512, 600]),
        Stage("writing"),
    ]
    print(f"reading the prompt with reports takes {with_reports / without:.2f}x as long")
