"""How the OpenAI-compatible API takes a request, as OpenAI does: 400s (not 422s) that name the
field, unknown and unimplemented fields refused by name, nulls read as defaults, the context
overflow in OpenAI's words (or turns dropped, as the client chooses), and completions of several
prompts or of token ids. The official `openai` client where it can say it, raw HTTP otherwise."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from backend.llm.context_window import PromptTooLongError
from backend.llm.remote import RemoteProvider, RemoteRefusedError
from backend.llm.types import ChatRequest, CompletionRequest, Event, Finished, SamplingParams
from backend.server.errors import openai_param
from tests.backend.conftest import InProcessRealBackend

HELLO = [{"role": "user", "content": "Hello there"}]
GREEDY: dict[str, Any] = {"model": "tiny", "max_tokens": 6, "temperature": 0}
OVERFLOW = "X-Hearth-Context-Overflow"


def long_conversation() -> list[dict[str, str]]:
    """A chat whose whole history does not fit the tiny model's 512 tokens; its end does."""
    turn = "the quick brown fox jumps over the lazy dog " * 6
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": turn} for i in range(12)]
    return [{"role": "system", "content": "You are Hearth."}, *history, HELLO[0]]


def post_raw(backend: InProcessRealBackend, route: str, body: bytes) -> httpx.Response:
    with backend.http() as http:
        return http.post(route, content=body, headers={"Content-Type": "application/json"})


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == "invalid_request_error" and set(error) == {
        "message",
        "type",
        "param",
        "code",
    }
    return error


# Status codes and `param`


def test_malformed_json_is_a_400_saying_where(backend: InProcessRealBackend) -> None:
    for route in ("/v1/chat/completions", "/v1/completions", "/hearth/conversations"):
        error = error_of(post_raw(backend, route, b'{"model": "tiny",\n "messages": [}'))
        assert error["param"] is None and error["code"] == "invalid_json"
        assert error["message"].startswith("the body is not valid JSON"), error
        assert "line 2, column 15" in error["message"], error


def test_a_bad_value_is_a_400_naming_the_field_as_openai_does(
    backend: InProcessRealBackend,
) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        (
            "/v1/chat/completions",
            {"messages": [{"role": "robot", "content": "hi"}]},
            "messages[0].role",
        ),
        ("/v1/chat/completions", {"messages": [{"content": "hi"}]}, "messages[0].role"),
        ("/v1/chat/completions", {"model": "tiny"}, "messages"),
        ("/v1/chat/completions", {"messages": HELLO, "max_tokens": 0}, "max_tokens"),
        ("/v1/completions", {"prompt": 5}, "prompt"),
        ("/v1/completions", {"prompt": ["a", 3]}, "prompt[1]"),
        ("/hearth/conversations", {"title": 5}, "title"),
    ]
    with backend.http() as http:
        for route, body, param in cases:
            error = error_of(http.post(route, json=body))
            assert (error["param"], error["code"]) == (param, "invalid_body"), (body, error)
            assert error["message"].startswith(param), error


def test_the_openai_client_sees_a_bad_request_not_an_unprocessable_entity(
    backend: InProcessRealBackend,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        backend.openai().chat.completions.create(model="tiny", messages=HELLO, temperature=5)
    assert caught.value.status_code == 400 and caught.value.param == "temperature"


def test_openai_param_leaves_out_the_names_pydantic_gives_union_members() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}
    loc = ("body", "messages", 0, "content", "list[ContentPart]", 0, "text")
    assert openai_param(loc, body) == "messages[0].content[0].text"
    assert openai_param(("body", "prompt", "str"), {"prompt": 5}) == "prompt"
    assert openai_param(("body", "messages"), {}, missing=True) == "messages"
    assert openai_param(("body", "messages", 0, "role"), {"messages": [{}]}, True) == (
        "messages[0].role"
    )
    assert openai_param(("header", OVERFLOW), None) == OVERFLOW
    assert openai_param(("body",), {"a": 1}) is None


# Unknown and unimplemented fields


def test_an_unknown_field_is_refused_by_name(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="tiny", messages=HELLO, extra_body={"frobnicate": True}
        )
    assert "Unrecognized request argument supplied: frobnicate" in caught.value.message
    assert (caught.value.param, caught.value.code) == ("frobnicate", "unknown_parameter")
    with pytest.raises(openai.BadRequestError, match="supplied: temprature"):
        client.completions.create(model="tiny", prompt="Hi", extra_body={"temprature": 0})
    with backend.http() as http:
        refused = http.post("/hearth/conversations", json={"title": "x", "colour": "red"})
    assert error_of(refused)["param"] == "colour"


@pytest.mark.parametrize(
    ("route", "field", "value"),
    [
        ("chat", "n", 2),
        ("chat", "modalities", ["text", "audio"]),
        ("chat", "audio", {"voice": "alloy", "format": "wav"}),
        ("chat", "web_search_options", {}),
        ("chat", "reasoning_effort", "high"),
        ("chat", "functions", [{"name": "f", "parameters": {"type": "object"}}]),
        ("completions", "n", 3),
        ("completions", "best_of", 2),
        ("completions", "echo", True),
        ("completions", "suffix", "and so it ends."),
    ],
)
def test_unimplemented_fields_are_refused_naming_the_field_and_why(
    backend: InProcessRealBackend, route: str, field: str, value: Any
) -> None:
    client = backend.openai()
    with pytest.raises(openai.BadRequestError) as caught:
        if route == "chat":
            client.chat.completions.create(
                model="tiny", messages=HELLO, max_tokens=2, **{field: value}
            )
        else:
            client.completions.create(model="tiny", prompt="Hi", max_tokens=2, **{field: value})
    assert (caught.value.param, caught.value.code) == (field, "unsupported_parameter")
    assert f"{field}=" in caught.value.message and "is not supported: " in caught.value.message


def test_values_that_ask_for_nothing_more_are_taken_and_change_nothing(
    backend: InProcessRealBackend,
) -> None:
    client = backend.openai()
    plain = client.chat.completions.create(messages=HELLO, **GREEDY)
    with_extras = client.chat.completions.create(
        messages=HELLO,
        n=1,
        modalities=["text"],
        user="someone",
        metadata={"purpose": "test"},
        store=False,
        service_tier="auto",
        prediction={"type": "content", "content": "Hello"},
        extra_body={"prompt_cache_key": "k", "safety_identifier": "s"},
        **GREEDY,
    )
    assert with_extras.choices[0].message.content == plain.choices[0].message.content
    text = client.completions.create(prompt="The fox", **GREEDY).choices[0].text
    harmless = client.completions.create(
        prompt="The fox", n=1, best_of=1, echo=False, suffix="", user="someone", **GREEDY
    )
    assert harmless.choices[0].text == text


# Nulls


def test_explicit_nulls_mean_the_defaults(backend: InProcessRealBackend) -> None:
    nulls = {
        "temperature": None,
        "top_p": None,
        "stop": None,
        "stream_options": None,
        "logit_bias": None,
        "n": None,
        "user": None,
        "max_completion_tokens": None,
        "metadata": None,
        "modalities": None,
        "audio": None,
    }
    asked = {"model": "tiny", "messages": HELLO, "max_tokens": 6, "seed": 11}
    with backend.http() as http:
        plain = http.post("/v1/chat/completions", json=asked)
        nulled = http.post("/v1/chat/completions", json=asked | nulls)
        assert nulled.status_code == 200, nulled.text
        assert nulled.json()["choices"] == plain.json()["choices"]
        sampled = {"prompt": "The fox", "max_tokens": 4, "seed": 2}
        completion_nulls = {"temperature": None, "echo": None, "suffix": None, "best_of": None}
        first = http.post("/v1/completions", json=sampled).json()["choices"]
        assert (
            http.post("/v1/completions", json=sampled | completion_nulls).json()["choices"] == first
        )
        # max_tokens null is no limit but the room left: still a reply, not an error
        unbounded = http.post(
            "/v1/chat/completions", json={"messages": HELLO, "max_tokens": None, "seed": None}
        )
        assert unbounded.status_code == 200, unbounded.text
        required = http.post("/v1/chat/completions", json={"messages": None})
        streamed = {"messages": HELLO, "max_tokens": 2, "stream": True}
        nested = http.post(
            "/v1/chat/completions", json=streamed | {"stream_options": {"include_usage": None}}
        )
        assert nested.status_code == 200 and '"usage"' not in nested.text
        unknown = http.post(
            "/v1/chat/completions", json=streamed | {"stream_options": {"include_usage_": True}}
        )
    assert error_of(required)["param"] == "messages"  # a required field has no default
    assert error_of(unknown)["param"] == "stream_options.include_usage_"


def test_the_openai_client_sending_nulls_through_extra_body(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    asked: dict[str, Any] = {"model": "tiny", "messages": HELLO, "max_tokens": 6, "seed": 5}
    plain = client.chat.completions.create(**asked)
    nulls = {"temperature": None, "stop": None, "stream_options": None, "top_p": None}
    nulled = client.chat.completions.create(**asked, extra_body=nulls)
    assert nulled.choices[0].message.content == plain.choices[0].message.content
    streamed = client.chat.completions.create(**asked, stream=True, extra_body=nulls)
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == plain.choices[0].message.content


# Context overflow


def test_overflow_is_worded_as_openai_words_it(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "word " * 3000}], max_tokens=8
        )
    assert (
        "This model's maximum context length is 512 tokens. However, your messages resulted in "
        in chat.value.message
    )
    assert (chat.value.code, chat.value.param) == ("context_length_exceeded", "messages")
    with pytest.raises(openai.BadRequestError) as completion:
        client.completions.create(model="tiny", prompt="word " * 3000, max_tokens=8)
    wording = r"maximum context length is 512 tokens\. However, your prompt resulted in \d+ tokens"
    assert re.search(wording, completion.value.message)
    assert (completion.value.code, completion.value.param) == ("context_length_exceeded", "prompt")


def test_a_client_chooses_an_error_instead_of_dropped_turns(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    messages = long_conversation()
    dropped = client.chat.completions.create(model="tiny", messages=messages, max_tokens=8)
    assert dropped.model_extra["hearth"]["dropped_messages"] > 0  # type: ignore[index]
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model="tiny",
                messages=messages,
                max_tokens=8,
                stream=stream,
                extra_headers={OVERFLOW: "error"},
            )
        assert caught.value.code == "context_length_exceeded"
        assert "However, your messages resulted in" in caught.value.message
    kept = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=3, extra_headers={OVERFLOW: "error"}
    )
    assert kept.model_extra["hearth"]["dropped_messages"] == 0  # type: ignore[index]
    with backend.http() as http:
        bad = http.post(
            "/v1/chat/completions", json={"messages": HELLO}, headers={OVERFLOW: "truncate"}
        )
    assert error_of(bad)["param"] == OVERFLOW


# Completions: several prompts, token ids


def tiny_ids(model: Path, text: str) -> list[int]:
    from llama_cpp import Llama

    llama = Llama(model_path=str(model), vocab_only=True, verbose=False)
    try:
        return list(llama.tokenize(text.encode(), add_bos=True))
    finally:
        llama.close()


def test_a_list_of_prompts_gives_one_choice_each(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    prompts = ["The fox", "Once upon a time"]
    alone = [client.completions.create(prompt=p, **GREEDY) for p in prompts]
    both = client.completions.create(prompt=prompts, **GREEDY)
    assert [c.index for c in both.choices] == [0, 1]
    assert [c.text for c in both.choices] == [a.choices[0].text for a in alone]
    assert both.usage is not None
    assert both.usage.prompt_tokens == sum(a.usage.prompt_tokens for a in alone if a.usage)
    assert both.usage.completion_tokens == 12


def test_streamed_prompts_carry_their_choice_index(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    prompts = ["The fox", "Once upon a time", "Hello"]
    whole = client.completions.create(prompt=prompts, **GREEDY)
    chunks = list(
        client.completions.create(
            prompt=prompts, stream=True, stream_options={"include_usage": True}, **GREEDY
        )
    )
    texts: dict[int, str] = {}
    ends: dict[int, str] = {}
    order: list[int] = []
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
            order.append(choice.index)
            if choice.finish_reason:
                ends[choice.index] = choice.finish_reason
    assert order == sorted(order)  # one prompt after the other
    assert [texts[i] for i in range(3)] == [c.text for c in whole.choices]
    assert ends == {0: "length", 1: "length", 2: "length"}
    assert chunks[-1].usage is not None and whole.usage is not None
    assert chunks[-1].usage.total_tokens == whole.usage.total_tokens


def test_token_id_prompts_are_the_model_tokens_as_they_are(
    backend: InProcessRealBackend, tiny_gguf: Path
) -> None:
    client = backend.openai()
    ids = tiny_ids(tiny_gguf, "The fox")
    as_text = client.completions.create(prompt="The fox", **GREEDY)
    as_ids = client.completions.create(prompt=ids, **GREEDY)
    assert as_ids.choices[0].text == as_text.choices[0].text
    assert as_ids.usage is not None and as_ids.usage.prompt_tokens == len(ids)
    other = tiny_ids(tiny_gguf, "Hello")
    several = client.completions.create(prompt=[ids, other], **GREEDY)
    assert [c.index for c in several.choices] == [0, 1]
    assert several.choices[0].text == as_text.choices[0].text
    with pytest.raises(openai.BadRequestError, match=r"\[99999\] outside the vocabulary") as bad:
        client.completions.create(prompt=[*ids, 99999], **GREEDY)
    assert (bad.value.param, bad.value.code) == ("prompt", "invalid_prompt")
    with backend.http() as http:
        negative = http.post("/v1/completions", json={"prompt": [1, -2]})
        assert error_of(negative)["param"] == "prompt[1]"
        empty = http.post("/v1/completions", json={"prompt": []})
        assert (error_of(empty)["code"], error_of(empty)["param"]) == ("empty_prompt", "prompt")


# The remote provider: the overflow choice, and token-id prompts, passed on


def collect(start: Any) -> tuple[str, Finished]:
    events: list[Event] = []
    start(events.append, threading.Event()).result(timeout=60)
    finished = events[-1]
    assert isinstance(finished, Finished)
    return "".join(getattr(e, "text", "") for e in events[:-1]), finished


def test_a_hearth_remote_drops_turns_or_refuses_as_the_request_says(
    backend: InProcessRealBackend, tiny_gguf: Path
) -> None:
    remote = RemoteProvider(backend.url, backend.token)
    try:
        params = SamplingParams(max_tokens=8, temperature=0)
        messages: Any = long_conversation()
        asked = ChatRequest("tiny", messages, params)
        _, finished = collect(lambda sink, cancel: remote.start_chat(asked, sink, cancel))
        assert finished.dropped_messages > 0
        strict = ChatRequest("tiny", messages, params, drop_old_turns=False)
        with pytest.raises(PromptTooLongError, match="maximum context length is 512") as caught:
            collect(lambda sink, cancel: remote.start_chat(strict, sink, cancel))
        assert caught.value.param == "messages"
        ids = tuple(tiny_ids(tiny_gguf, "The fox"))
        by_ids = CompletionRequest("tiny", ids, params)
        by_text = CompletionRequest("tiny", "The fox", params)
        text, _ = collect(lambda sink, cancel: remote.start_completion(by_ids, sink, cancel))
        assert text == collect(lambda s, c: remote.start_completion(by_text, s, c))[0]
    finally:
        remote.close()


def refusing_remote(context: int) -> httpx.MockTransport:
    """An OpenAI-compatible server that, like llama-server, refuses a prompt of more than
    `context` words instead of shortening it, and otherwise echoes the last message's words."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if "messages" not in body:
            error = {"message": "prompt must be a string", "type": "invalid_request_error"}
            return httpx.Response(400, json={"error": error})
        words = sum(len(m["content"].split()) for m in body["messages"])
        if words > context:
            error = {
                "code": 400,
                "message": "the request exceeds the available context size",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": words,
                "n_ctx": context,
            }
            return httpx.Response(400, json={"error": error})
        reply = body["messages"][-1]["content"]
        chunks = [
            {"choices": [{"delta": {"content": reply}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": words, "completion_tokens": 1}},
        ]
        lines = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return httpx.Response(200, text=lines, headers={"Content-Type": "text/event-stream"})

    return httpx.MockTransport(answer)


def test_a_remote_that_refuses_an_overflow_is_asked_again_without_old_turns() -> None:
    remote = RemoteProvider("http://remote.invalid", transport=refusing_remote(context=5))
    try:
        messages: Any = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "one two three"},
            {"role": "assistant", "content": "four five"},
            {"role": "user", "content": "six seven"},
        ]
        asked = ChatRequest("m", messages)
        text, finished = collect(lambda sink, cancel: remote.start_chat(asked, sink, cancel))
        assert (text, finished.dropped_messages) == ("six seven", 2)
        strict = ChatRequest("m", messages, drop_old_turns=False)
        with pytest.raises(PromptTooLongError) as caught:
            collect(lambda sink, cancel: remote.start_chat(strict, sink, cancel))
        assert str(caught.value).startswith(
            "This model's maximum context length is 5 tokens. However, your messages resulted "
            "in 9 tokens"
        )
        completion = CompletionRequest("m", (1, 2, 3))
        with pytest.raises(RemoteRefusedError, match="prompt must be a string"):
            collect(lambda sink, cancel: remote.start_completion(completion, sink, cancel))
    finally:
        remote.close()


def test_an_unknown_field_inside_a_message_is_refused_and_openais_reply_fields_replay(
    backend: InProcessRealBackend,
) -> None:
    """A message's own fields follow the rule too; what OpenAI's replies carry (`refusal`,
    `annotations`, explicit nulls) is taken back into the history, the refusal as its text."""
    with backend.http() as http:
        odd = [{"role": "user", "content": "Hi", "cache_control": {"type": "ephemeral"}}]
        refused = http.post("/v1/chat/completions", json={"messages": odd, "max_tokens": 2})
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == "messages[0].cache_control"
        part = [{"role": "user", "content": [{"type": "text", "text": "Hi", "x": 1}]}]
        refused = http.post("/v1/chat/completions", json={"messages": part, "max_tokens": 2})
        assert refused.json()["error"]["param"] == "messages[0].content[0].x"
        replayed = [
            *HELLO,
            {
                "role": "assistant",
                "content": None,
                "refusal": "I can't help with that.",
                "annotations": [],
                "audio": None,
                "function_call": None,
                "tool_calls": None,
            },
            {"role": "user", "content": "Why not?"},
        ]
        shorter = [*HELLO, {"role": "assistant", "content": ""}, replayed[-1]]
        both = [
            http.post("/v1/chat/completions", json={"messages": m, "max_tokens": 1}).json()
            for m in (replayed, shorter)
        ]
    assert all("usage" in b for b in both), both
    assert both[0]["usage"]["prompt_tokens"] > both[1]["usage"]["prompt_tokens"]  # refusal seen
