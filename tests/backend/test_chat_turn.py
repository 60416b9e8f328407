"""The chat turn in process, on a scripted provider: preparing it, running it, storing the reply."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import aclosing
from pathlib import Path

import pytest

from backend.chat import runner
from backend.chat.models import resolve_model
from backend.chat.turn import Question, Turn, prepare_api_turn, prepare_turn
from backend.documents.grounding import INSTRUCTION, NOTHING_FOUND, grounded_question
from backend.documents.retrieval import Hit
from backend.llm.context_window import PromptTooLongError
from backend.llm.types import SamplingParams
from backend.models.registry import UnknownModelError
from backend.server.routes.openai import chat_chunker, openai_chunks
from backend.server.services import Services
from backend.settings import Settings
from backend.wire import ChatEvent, ConversationSettings, DoneEvent, ErrorEvent, TokenEvent
from tests.backend.fakes import REPLY, FakeLibrary, FakeProvider, open_services

CAT_HIT = Hit(
    chunk_id="c1",
    collection="docs",
    source="/docs/guide.pdf",
    page=2,
    text="The lighthouse keeper's cat is called Biscuit.",
    score=0.9,
    similarity=0.62,
    relevance=0.55,
)
UNRELATED_HIT = CAT_HIT.model_copy(update={"chunk_id": "c2", "similarity": 0.05, "relevance": 0.3})


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider(models=("tiny", "tiny-docs", "seer"), vision=("seer",))


@pytest.fixture
def services(tmp_path: Path, provider: FakeProvider) -> Iterator[Services]:
    opened = open_services(tmp_path / "home", provider)
    yield opened
    opened.close()


def with_documents(services: Services, hits: list[Hit]) -> str:
    """A new chat answering from the 'docs' collection, whose every search finds `hits`."""
    services.documents.close()
    services.documents = FakeLibrary(hits)  # type: ignore[assignment]
    cid = services.store.create().id
    services.store.update_settings(cid, collections=["docs"])
    return cid


def stream(
    services: Services, turn: Turn, leave_after: Callable[[list[ChatEvent]], bool] | None = None
) -> list[ChatEvent]:
    """The turn's events; `leave_after` says when the listener goes away, as a client that
    disconnects. Returns once the generation has ended."""

    async def listen() -> list[ChatEvent]:
        events: list[ChatEvent] = []
        async with aclosing(runner.stream_reply(services, turn)) as replies:
            async for event in replies:
                events.append(event)
                if leave_after and leave_after(events):
                    break
        await asyncio.to_thread(services.provider.drain)  # type: ignore[attr-defined]
        return events

    return asyncio.run(listen())


def ask(services: Services, cid: str, question: Question) -> list[ChatEvent]:
    return stream(services, prepare_turn(services, cid, question))


def test_a_turn_resolves_its_model_once_and_the_reply_is_stored(
    services: Services, provider: FakeProvider
) -> None:
    cid = services.store.create(system_prompt="Be brief.").id
    turn = prepare_turn(services, cid, Question("Hello Hearth"))
    assert turn.model.name == "tiny" and provider.checked == ["tiny"]
    assert turn.request.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello Hearth"},
    ]
    events = stream(services, turn)
    assert provider.checked == ["tiny"], "running the turn looks nothing up again"
    assert [e.type for e in events] == ["user", "token", "token", "token", "token", "token", "done"]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.message.content == "".join(REPLY) and done.message.status == "complete"
    assert done.message.model == "tiny" and done.message.timings is not None
    assert done.message.timings.completion_tokens == len(REPLY)
    stored = services.store.messages(cid)
    assert [(m.role, m.content) for m in stored] == [
        ("user", "Hello Hearth"),
        ("assistant", "".join(REPLY)),
    ]
    assert stored[1] == done.message


def test_a_chat_with_an_unknown_model_is_refused_before_anything_is_stored(
    services: Services,
) -> None:
    cid = services.store.create(model="gone").id
    with pytest.raises(UnknownModelError):
        prepare_turn(services, cid, Question("Hello"))
    assert services.store.messages(cid) == []


def test_chat_settings_choose_the_sampling(services: Services, provider: FakeProvider) -> None:
    cid = services.store.create().id
    chosen = ConversationSettings(max_tokens=2, temperature=0.3, seed=5)
    services.store.update_settings(cid, settings=chosen)
    turn = prepare_turn(services, cid, Question("Hi"))
    # Over Hearth's defaults for its chats: small penalties, and a loop ends the reply.
    defaults = {"repeat_penalty": 1.1, "frequency_penalty": 0.1, "stop_repetition": True}
    assert turn.request.params == SamplingParams(max_tokens=2, temperature=0.3, seed=5, **defaults)
    events = stream(services, turn)
    assert [e.text for e in events if isinstance(e, TokenEvent)] == list(REPLY[:2])


def test_an_image_becomes_labels_for_a_model_without_vision(
    services: Services, provider: FakeProvider, tmp_path: Path
) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"png bytes")
    cid = services.store.create().id
    turn = prepare_turn(services, cid, Question("What is this?", images=(str(picture),)))
    assert turn.request.images == () and provider.checked == ["tiny"]
    prompt = turn.request.messages[-1]["content"]
    assert "cat (80%)" in prompt and prompt.endswith("What is this?")
    assert "inferred from labels" in prompt
    (asked,) = services.store.messages(cid)
    assert asked.content == "What is this?"  # the labels are the prompt's, not the user's
    assert [a.name for a in asked.attachments] == ["cat.png"]

    services.store.update_settings(cid, model="seer")
    seeing = prepare_turn(services, cid, Question("And now?", images=(str(picture),)))
    assert seeing.request.images == (b"png bytes",)
    assert seeing.request.messages[-1]["content"] == "And now?"
    assert provider.checked == ["tiny", "seer"], "one look-up per turn, images or not"


def test_the_openai_turn_takes_images_the_same_way(
    services: Services, provider: FakeProvider, tmp_path: Path
) -> None:
    picture = tmp_path / "dog.png"
    picture.write_bytes(b"dog")
    messages = [{"role": "user", "content": "Describe it."}]
    blind = prepare_api_turn(services, None, messages, [str(picture)], SamplingParams())
    seeing = prepare_api_turn(services, "seer", messages, [str(picture)], SamplingParams())
    assert blind.model.name == "tiny" and blind.request.images == ()
    assert "cat (80%)" in blind.request.messages[-1]["content"]
    assert seeing.request.images == (b"dog",)
    assert messages == [{"role": "user", "content": "Describe it."}], "the input is left alone"
    assert provider.checked == ["tiny", "seer"]
    assert blind.asked is None and blind.conversation_id is None


def test_a_grounded_turn_asks_from_the_sources_and_stores_them(
    services: Services, provider: FakeProvider
) -> None:
    cid = with_documents(services, [CAT_HIT, UNRELATED_HIT])
    question = "What is the lighthouse keeper's cat called?"
    turn = prepare_turn(services, cid, Question(question))
    (source,) = turn.sources  # the unrelated passage is judged below the cut-off
    assert (source.n, source.path, source.page) == (1, "/docs/guide.pdf", 2)
    assert "Biscuit" in source.snippet
    assert turn.model.name == "tiny-docs", "a chat with documents uses the documents model"
    prompt = turn.request.messages[-1]["content"]
    assert prompt == grounded_question(question, [source]) and prompt.startswith(INSTRUCTION)
    assert turn.request.params.temperature == 0.0, "answers from documents are greedy"
    done = stream(services, turn)[-1]
    assert isinstance(done, DoneEvent) and done.message.sources == [source]
    stored = services.store.messages(cid)
    assert stored[0].content == question  # the prompt's sources are not stored
    assert stored[1].sources == [source]


def test_a_chosen_model_and_temperature_win_over_the_documents_defaults(
    services: Services,
) -> None:
    cid = with_documents(services, [CAT_HIT])
    services.store.update_settings(cid, model="tiny", settings=ConversationSettings(temperature=1))
    turn = prepare_turn(services, cid, Question("Who is Biscuit?"))
    assert turn.model.name == "tiny" and turn.request.params.temperature == 1.0


def test_the_default_answers_when_the_documents_model_is_missing(tmp_path: Path) -> None:
    provider = FakeProvider(models=("tiny",))
    settings = Settings(default_model="tiny", documents_model="tiny-docs", threads=1)
    assert resolve_model(provider, settings, None, with_documents=True).name == "tiny"
    assert provider.checked == ["tiny-docs", "tiny"]
    with pytest.raises(UnknownModelError):
        resolve_model(provider, settings, "tiny-docs", with_documents=True)


def test_nothing_relevant_gets_an_honest_reply_without_the_model(
    services: Services, provider: FakeProvider
) -> None:
    cid = with_documents(services, [UNRELATED_HIT])
    events = ask(services, cid, Question("Explain gluon confinement in QCD."))
    assert [e.type for e in events] == ["user", "token", "done"]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.message.content == NOTHING_FOUND and done.message.sources == []
    assert done.message.model is None and done.message.timings is None  # no generation ran
    assert provider.requests == []
    fixed = asyncio.run(runner.reply(services, prepare_turn(services, cid, Question("QCD?"))))
    assert fixed.assistant.content == NOTHING_FOUND and provider.requests == []


def test_the_honest_reply_is_stored_even_when_the_listener_leaves_at_once(
    services: Services,
) -> None:
    cid = with_documents(services, [UNRELATED_HIT])
    turn = prepare_turn(services, cid, Question("Explain gluon confinement in QCD."))
    events = stream(services, turn, leave_after=lambda seen: len(seen) == 1)
    assert [e.type for e in events] == ["user"]
    stored = services.store.messages(cid)
    assert [(m.role, m.content) for m in stored][-1] == ("assistant", NOTHING_FOUND)


def test_a_listener_leaving_stores_the_reply_as_interrupted_and_stops_it(
    services: Services, provider: FakeProvider
) -> None:
    cid = services.store.create().id
    provider.hold_after(2)
    events = stream(
        services,
        prepare_turn(services, cid, Question("Tell me a story")),
        leave_after=lambda seen: len(seen) == 3,  # the question and two tokens
    )
    assert [e.type for e in events] == ["user", "token", "token"]
    reply = services.store.messages(cid)[-1]
    assert reply.status == "interrupted" and reply.content == "".join(REPLY[:2])
    assert services.generations.recent[-1].finish_reason == "cancelled"
    assert not services.generations.active

    # An interrupted reply is part of the next prompt with the text it has, so "go on" can
    # continue it and the prompt never holds two user turns in a row.
    follow_up = prepare_turn(services, cid, Question("Go on"))
    assert [m["content"] for m in follow_up.request.messages] == [
        "Tell me a story",
        "".join(REPLY[:2]),
        "Go on",
    ]


def test_deleting_a_chat_mid_reply_stops_the_reply_and_ends_its_stream(
    services: Services, provider: FakeProvider
) -> None:
    cid = services.store.create().id
    provider.hold_after(2)
    turn = prepare_turn(services, cid, Question("A long story"))

    def delete_after_two_tokens(seen: list[ChatEvent]) -> bool:
        if len(seen) == 3:
            runner.delete_conversation(services, cid)
        return False

    events = stream(services, turn, leave_after=delete_after_two_tokens)
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    assert isinstance(events[-1], ErrorEvent) and "conversation" in events[-1].message
    assert events[-1].code == "conversation_not_found"
    assert len(tokens) == 2 < len(REPLY), "the reply stopped when its chat was deleted"
    assert services.generations.recent[-1].finish_reason == "cancelled"


def test_a_failed_reply_streams_an_error_and_is_stored_as_failed(
    services: Services, provider: FakeProvider
) -> None:
    cid = services.store.create().id
    provider.fail_with(PromptTooLongError("the prompt needs 9000 tokens but only 512 fit"))
    events = ask(services, cid, Question("lighthouse " * 400))
    assert [e.type for e in events] == ["user", "error", "done"]
    error = events[1]
    assert isinstance(error, ErrorEvent)
    assert (error.code, error.error_type) == ("context_length_exceeded", "invalid_request_error")
    with pytest.raises(PromptTooLongError):
        asyncio.run(runner.reply(services, prepare_turn(services, cid, Question("again"))))
    statuses = [(m.role, m.status) for m in services.store.messages(cid)]
    assert statuses == [("user", "complete"), ("assistant", "error")] * 2


def test_regenerate_replaces_the_tail_and_asks_without_it(
    services: Services, provider: FakeProvider
) -> None:
    cid = services.store.create().id
    first = asyncio.run(runner.reply(services, prepare_turn(services, cid, Question("First"))))
    asyncio.run(runner.reply(services, prepare_turn(services, cid, Question("Second"))))
    edited = Question("First, edited", replace_from=first.user.id)
    turn = prepare_turn(services, cid, edited)
    assert turn.request.messages == [{"role": "user", "content": "First, edited"}]
    asyncio.run(runner.reply(services, turn))
    stored = services.store.messages(cid)
    assert [(m.role, m.content) for m in stored] == [
        ("user", "First, edited"),
        ("assistant", "".join(REPLY)),
    ]


def test_an_openai_stream_left_early_stops_its_generation(
    services: Services, provider: FakeProvider
) -> None:
    provider.hold_after(2)
    turn = prepare_api_turn(
        services, None, [{"role": "user", "content": "Hi"}], [], SamplingParams()
    )

    async def listen() -> list[str]:
        generation = runner.start(services, turn)
        first = await generation.next_event()
        chunk = chat_chunker("chatcmpl-1", 0, turn.model.name, logprobs=False)
        lines: list[str] = []
        async with aclosing(openai_chunks(generation, first, lambda _: chunk, False)) as sent:
            async for line in sent:
                lines.append(line)
                if len(lines) == 2:  # the client disconnects after two chunks
                    break
        await asyncio.to_thread(provider.drain)
        return lines

    lines = asyncio.run(listen())
    assert [
        json.loads(line.removeprefix("data: "))["choices"][0]["delta"]["content"] for line in lines
    ] == list(REPLY[:2])
    assert services.generations.recent[-1].finish_reason == "cancelled"
    assert services.generations.recent[-1].completion_tokens == 2
