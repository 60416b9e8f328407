"""The API as tools meet it: the official `openai` client against a real `hearth serve` process
(not the app served in this test's process), one check per capability a client depends on. The
detailed cases live beside each feature's own tests; this file is the end-to-end checklist."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import openai
import pytest

from tests.backend.conftest import RunningBackend, launch, prepare_home
from tests.backend.test_api_structured import PERSON, greedy_direct, token_id
from training.testing import build_tiny_gguf

ASK = [{"role": "user", "content": "What is the weather in Oslo?"}]
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 12}, "days": {"type": "integer"}},
    "required": ["city", "days"],
    "additionalProperties": False,
}
TOOLS: list = [
    {"type": "function", "function": {"name": "forecast", "parameters": WEATHER}},
    {"type": "function", "function": {"name": "alarm", "parameters": {"type": "object"}}},
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a context that holds the functions' descriptions (its byte-level
    vocabulary spends a token on almost every character of them)."""
    return build_tiny_gguf(tmp_path_factory.mktemp("models") / "tiny.gguf", context_length=2048)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, model: Path) -> Iterator[RunningBackend]:
    home = prepare_home(tmp_path_factory.mktemp("home"), model, context_size=2048, port=0)
    running = launch(home)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(served: RunningBackend) -> openai.OpenAI:
    return served.openai()


def test_json_schema_and_json_object(client: openai.OpenAI, model: Path) -> None:
    schema = {"name": "person", "schema": PERSON, "strict": True}
    reply = client.chat.completions.create(
        model="tiny",
        messages=ASK,
        max_tokens=400,
        seed=1,
        response_format={"type": "json_schema", "json_schema": schema},
    )
    jsonschema.validate(json.loads(reply.choices[0].message.content or ""), PERSON)
    reply = client.chat.completions.create(
        model="tiny",
        messages=ASK,
        max_tokens=400,
        seed=4,
        response_format={"type": "json_object"},
        logit_bias={str(token_id(model, '"')): 4},  # keeps the random model's keys short
    )
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


@pytest.mark.parametrize(
    "choice", [{"type": "function", "function": {"name": "forecast"}}, "required"]
)
def test_forced_tool_calls_streamed_and_not(client: openai.OpenAI, choice: object) -> None:
    ask = {"model": "tiny", "messages": ASK, "tools": TOOLS, "tool_choice": choice}
    ask |= {"max_tokens": 200, "seed": 2}
    whole = client.chat.completions.create(**ask)  # type: ignore[call-overload]
    assert whole.choices[0].finish_reason == "tool_calls"
    calls = [(c.function.name, c.function.arguments) for c in whole.choices[0].message.tool_calls]
    with client.chat.completions.stream(**ask) as stream:  # type: ignore[arg-type]
        final = stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls or []
    for name, arguments in calls + [(c.function.name, c.function.arguments) for c in streamed]:
        if name == "forecast":
            jsonschema.validate(json.loads(arguments), WEATHER)
        else:
            assert name == "alarm" and isinstance(json.loads(arguments), dict)
    assert streamed and calls


def test_a_tool_result_turn(client: openai.OpenAI) -> None:
    call = {"id": "call_1", "type": "function"}
    call["function"] = {"name": "forecast", "arguments": '{"city": "Oslo", "days": 1}'}
    history = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 degrees"},
    ]
    plain = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=1)
    reply = client.chat.completions.create(
        model="tiny",
        messages=history,
        tools=TOOLS,
        max_tokens=4,  # type: ignore[arg-type]
    )
    assert reply.usage and plain.usage
    assert reply.usage.prompt_tokens > plain.usage.prompt_tokens + 10  # the result is in it


def test_logprobs_equal_a_direct_computation(client: openai.OpenAI, model: Path) -> None:
    reply = client.completions.create(
        model="tiny", prompt="Once upon", max_tokens=5, temperature=0, logprobs=2
    )
    scores = reply.choices[0].logprobs
    assert scores and scores.tokens and scores.token_logprobs
    direct = greedy_direct(model, "Once upon", len(scores.tokens), 2)
    assert scores.token_logprobs == pytest.approx([lp for _, lp in direct], abs=1e-4)


def test_400_not_422_and_nulls_mean_default(served: RunningBackend, client: openai.OpenAI) -> None:
    with served.http() as http:
        broken = http.post(
            "/v1/chat/completions",
            content=b'{"messages": [',
            headers={"content-type": "application/json"},
        )
        assert broken.status_code == 400
        assert broken.json()["error"]["type"] == "invalid_request_error"
        nulls = {"temperature": None, "max_tokens": None, "stop": None, "seed": None}
        body = {"model": "tiny", "messages": ASK, "max_completion_tokens": 3} | nulls
        assert http.post("/v1/chat/completions", json=body).status_code == 200
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="tiny", messages=ASK, n=2, max_tokens=2)
    assert refused.value.status_code == 400 and refused.value.param == "n"


def test_overflow_has_openais_wording(client: openai.OpenAI) -> None:
    long = [{"role": "user", "content": "word " * 3000}]
    with pytest.raises(openai.BadRequestError) as overflow:
        client.chat.completions.create(
            model="tiny",
            messages=long,
            max_tokens=8,
            extra_headers={"X-Hearth-Context-Overflow": "error"},
        )
    assert "This model's maximum context length is 2048 tokens. However, your messages " in (
        overflow.value.message
    )


def test_two_prompts_give_two_choices(client: openai.OpenAI) -> None:
    reply = client.completions.create(model="tiny", prompt=["One", "Two"], max_tokens=3)
    assert [choice.index for choice in reply.choices] == [0, 1]


def test_embeddings_answer_to_openais_names(client: openai.OpenAI) -> None:
    for name in ("text-embedding-3-small", "text-embedding-ada-002"):
        vectors = client.embeddings.create(model=name, input=["a harbour", "a ferry"])
        assert [len(item.embedding) for item in vectors.data] == [384, 384]


def test_browser_origins_and_foreign_hosts(served: RunningBackend) -> None:
    def preflight(origin: str) -> httpx.Response:
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        return httpx.options(f"{served.url}/v1/chat/completions", headers=headers)

    allowed = preflight("http://localhost:5173")
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "access-control-allow-origin" not in preflight("https://evil.example").headers
    with served.http() as http:  # the right token does not help a foreign Host
        foreign = http.get("/v1/models", headers={"Host": "evil.example"})
    assert foreign.status_code in (403, 421)
