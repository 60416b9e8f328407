"""The llama.cpp runtime on a real tiny GGUF: streaming, cancellation, seeds and model swaps."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.llm.context_window import PromptTooLongError
from backend.llm.runtime import LlamaRuntime
from backend.llm.types import ChatRequest, Event, Finished, SamplingParams, Token
from backend.models.registry import ModelRegistry, UnknownModelError
from backend.paths import HomeLayout
from backend.settings import Settings
from training.testing import build_tiny_gguf


@pytest.fixture
def runtime(tiny_gguf: Path, tmp_path: Path) -> Iterator[LlamaRuntime]:
    layout = HomeLayout.current().ensure()
    (layout.models / "tiny.gguf").write_bytes(tiny_gguf.read_bytes())
    build_tiny_gguf(layout.models / "tiny-moe.gguf", moe=True)
    registry = ModelRegistry(layout, shipped_dir=tmp_path / "none")
    rt = LlamaRuntime(registry, Settings(context_size=512, threads=2))
    yield rt
    rt.close()


def chat(
    runtime: LlamaRuntime,
    request: ChatRequest,
    cancel_after: int | None = None,
) -> tuple[list[str], Finished]:
    events: list[Event] = []
    cancel = threading.Event()

    def sink(event: Event) -> None:
        events.append(event)
        if cancel_after is not None and len(events) >= cancel_after:
            cancel.set()

    if cancel_after == 0:  # cancelled before it starts
        cancel.set()
    runtime.start_chat(request, sink, cancel).result(timeout=120)
    assert isinstance(events[-1], Finished)
    return [e.text for e in events if isinstance(e, Token)], events[-1]


def ask(model: str, text: str, **params: object) -> ChatRequest:
    return ChatRequest(model, [{"role": "user", "content": text}], SamplingParams(**params))  # type: ignore[arg-type]


def test_generation_streams_tokens_and_reports_speed(runtime: LlamaRuntime) -> None:
    tokens, finished = chat(runtime, ask("tiny", "Hello", max_tokens=12, temperature=0))
    assert finished.finish_reason == "length"
    assert finished.timings.completion_tokens == 12
    assert len(tokens) >= 6
    assert finished.timings.prompt_tokens > 5
    assert finished.timings.generation_per_second > 0


def test_cancel_stops_within_a_token_or_two(runtime: LlamaRuntime) -> None:
    never_end = ((2, -100.0),)  # <|im_end|> banned, so only the cancel can stop it early
    request = ask("tiny", "Hello", max_tokens=400, seed=1, logit_bias=never_end)
    tokens, finished = chat(runtime, request, cancel_after=3)
    assert finished.finish_reason == "cancelled"
    assert finished.timings.completion_tokens <= 6
    assert len(tokens) <= 4  # three, plus any partial character flushed at the end


def test_same_seed_same_text(runtime: LlamaRuntime) -> None:
    first, _ = chat(runtime, ask("tiny", "Hi", max_tokens=16, temperature=1.0, seed=7))
    second, _ = chat(runtime, ask("tiny", "Hi", max_tokens=16, temperature=1.0, seed=7))
    other, _ = chat(runtime, ask("tiny", "Hi", max_tokens=16, temperature=1.0, seed=8))
    assert first == second
    assert first != other


def test_swapping_models_keeps_one_resident(runtime: LlamaRuntime) -> None:
    _, dense = chat(runtime, ask("tiny", "Hi", max_tokens=4))
    _, moe = chat(runtime, ask("tiny-moe", "Hi", max_tokens=4))
    assert (dense.model, moe.model) == ("tiny", "tiny-moe")
    assert runtime._resident is not None and runtime._resident.entry.name == "tiny-moe"


def test_long_conversation_drops_oldest_turns(runtime: LlamaRuntime) -> None:
    long_turn = "the quick brown fox jumps over the lazy dog " * 6
    messages = [{"role": "system", "content": "You are Hearth."}]
    for i in range(12):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": long_turn})
    messages.append({"role": "user", "content": "And now?"})
    _, finished = chat(runtime, ChatRequest("tiny", messages, SamplingParams(max_tokens=8)))
    assert finished.dropped_messages > 0
    assert finished.timings.prompt_tokens <= 512 - 8


def test_single_prompt_longer_than_context_fails_clearly(runtime: LlamaRuntime) -> None:
    future = runtime.start_chat(
        ask("tiny", "word " * 2000, max_tokens=8), lambda _e: None, threading.Event()
    )
    with pytest.raises(PromptTooLongError, match="maximum context length is 512 tokens"):
        future.result(timeout=60)


def test_unknown_model_is_an_error_not_a_fallback(runtime: LlamaRuntime) -> None:
    with pytest.raises(UnknownModelError):
        runtime.check_model("does-not-exist")
