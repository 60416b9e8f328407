"""Tool calls through the official `openai` client and LangChain, against the real engine serving
a tiny random-weight model: it cannot write a call on its own, so only the grammar that
tool_choice asks for can make its calls parse and match their schemas. A scripted model stands
in where the model's own words matter (a call it chooses to make, with text before it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import jsonschema
import openai
import pytest
from pydantic import BaseModel, Field

from backend.discovery import load_or_create_token
from backend.llm.types import ChatRequest
from tests.backend.conftest import InProcessRealBackend, prepare_home, serve_real
from tests.backend.fakes import FakeProvider
from tests.backend.test_tool_calls import QWEN25_TEMPLATE
from tests.inprocess_backend import InProcessBackend, serve_in_process
from training.gguf_export import write_gguf
from training.testing import build_tiny_gguf, random_weights, tiny_config
from training.tokenizer import train_bpe

ASK = [{"role": "user", "content": "What is the weather in Oslo?"}]
WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 12},
        "unit": {"enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
ADD_PARAMETERS = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
    "additionalProperties": False,
}
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": WEATHER_PARAMETERS,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers.",
            "parameters": ADD_PARAMETERS,
        },
    },
]
SCHEMAS = {"get_weather": WEATHER_PARAMETERS, "add": ADD_PARAMETERS}
NAMED: Any = {"type": "function", "function": {"name": "get_weather"}}


def build_tiny_gguf_with_template(path: Path, template: str) -> Path:
    """The tiny model with another chat template than ChatML."""
    tokenizer = train_bpe(["Call functions, read their results and answer."] * 4, 384)
    config = tiny_config(tokenizer.get_vocab_size(), context_length=2048)
    weights = random_weights(config, seed=1)
    vocabulary = tokenizer.to_str()
    return write_gguf(path, config, weights, vocabulary, name=path.stem, chat_template=template)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessRealBackend]:
    """The tiny model (ChatML, which knows no tools: the fallback prompt) and one with Qwen 2.5's
    template, with a context that holds the functions' descriptions: their byte-level
    vocabulary spends a token on almost every character of them."""
    models = tmp_path_factory.mktemp("models")
    model = build_tiny_gguf(models / "tiny.gguf", context_length=2048)
    layout = prepare_home(tmp_path_factory.mktemp("home"), model, context_size=2048)
    build_tiny_gguf_with_template(layout.models / "qwen-tiny.gguf", QWEN25_TEMPLATE)
    running = serve_real(layout)
    yield running
    running.stop()


def check_calls(calls: Any, names: set[str]) -> None:
    """Every call names an offered function, has an id and arguments matching its schema."""
    assert calls
    for call in calls:
        assert call.type == "function" and call.id.startswith("call_")
        assert call.function.name in names
        jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])


@pytest.mark.parametrize("seed", [1, 2])
def test_a_named_tool_choice_gives_a_call_that_matches_the_schema(
    backend: InProcessRealBackend, seed: int
) -> None:
    reply = backend.openai().chat.completions.create(
        model="tiny",
        messages=ASK,
        tools=TOOLS,
        tool_choice=NAMED,
        max_tokens=200,
        seed=seed,
        temperature=1.0,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    check_calls(choice.message.tool_calls, {"get_weather"})


@pytest.mark.parametrize("seed", [3, 4])
def test_required_gives_a_call_to_one_of_the_tools(
    backend: InProcessRealBackend, seed: int
) -> None:
    reply = backend.openai().chat.completions.create(
        model="tiny",
        messages=ASK,
        tools=TOOLS,
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=200,
        seed=seed,
        temperature=1.0,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None and len(choice.message.tool_calls) == 1
    check_calls(choice.message.tool_calls, {"get_weather", "add"})


def test_a_model_whose_template_knows_tools_gets_them_there_and_calls_in_its_format(
    backend: InProcessRealBackend,
) -> None:
    client = backend.openai()
    reply = client.chat.completions.create(
        model="qwen-tiny",
        messages=ASK,
        tools=TOOLS,
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=200,
        seed=10,
        temperature=1.0,
    )
    assert reply.choices[0].finish_reason == "tool_calls"
    check_calls(reply.choices[0].message.tool_calls, {"get_weather", "add"})
    # The functions reached the prompt (test_tool_calls shows how Qwen's template words them).
    plain = client.chat.completions.create(model="qwen-tiny", messages=ASK, max_tokens=1)
    assert reply.usage and plain.usage
    assert plain.usage.prompt_tokens + 200 < reply.usage.prompt_tokens


def test_streamed_calls_assemble_in_the_clients_stream_helper(
    backend: InProcessRealBackend,
) -> None:
    with backend.openai().chat.completions.stream(
        model="tiny",
        messages=ASK,
        tools=TOOLS,
        tool_choice=NAMED,
        max_tokens=200,
        seed=5,
        temperature=1.0,
    ) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    check_calls(choice.message.tool_calls, {"get_weather"})
    assert [event.name for event in done] == ["get_weather"]


def test_streamed_required_calls_arrive_as_openai_sends_them(
    backend: InProcessRealBackend,
) -> None:
    stream = backend.openai().chat.completions.create(
        model="tiny",
        messages=ASK,
        tools=TOOLS,
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=200,
        seed=6,
        temperature=1.0,
        stream=True,
    )
    chunks = list(stream)
    parts = [call for c in chunks for call in c.choices[0].delta.tool_calls or []]
    opening, arguments = parts  # one call: its name first, then its arguments
    assert opening.index == arguments.index == 0
    assert opening.id and opening.id.startswith("call_") and opening.type == "function"
    assert opening.function and opening.function.arguments == ""
    assert arguments.id is None and arguments.function and arguments.function.arguments
    assert opening.function.name in SCHEMAS
    jsonschema.validate(json.loads(arguments.function.arguments), SCHEMAS[opening.function.name])
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert not "".join(c.choices[0].delta.content or "" for c in chunks)


def test_a_tool_result_turn_reaches_the_prompt(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    called = client.chat.completions.create(
        model="tiny", messages=ASK, tools=TOOLS, tool_choice=NAMED, max_tokens=200, seed=7
    )
    call = called.choices[0].message.tool_calls[0]  # type: ignore[index]
    history: Any = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny and 21 degrees in Oslo."},
    ]
    answered = client.chat.completions.create(
        model="tiny", messages=history, tools=TOOLS, max_tokens=8, temperature=0
    )
    without_result = client.chat.completions.create(
        model="tiny", messages=history[:-1], tools=TOOLS, max_tokens=8, temperature=0
    )
    assert answered.usage and without_result.usage and called.usage
    # The result's words are in the prompt, and the call is too.
    assert answered.usage.prompt_tokens > without_result.usage.prompt_tokens + 8
    assert without_result.usage.prompt_tokens > called.usage.prompt_tokens + 10


def test_none_hides_the_tools(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    hidden = client.chat.completions.create(
        model="tiny", messages=ASK, tools=TOOLS, tool_choice="none", max_tokens=12, seed=8
    )
    plain = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=12, seed=8)
    offered = client.chat.completions.create(
        model="tiny", messages=ASK, tools=TOOLS, max_tokens=12, seed=8
    )
    assert hidden.choices[0].message.tool_calls is None
    assert hidden.choices[0].finish_reason == "length"
    assert hidden.choices[0].message.content == plain.choices[0].message.content
    assert hidden.usage and plain.usage and offered.usage
    assert hidden.usage.prompt_tokens == plain.usage.prompt_tokens < offered.usage.prompt_tokens


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (
            {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice.function.name",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
        (
            {
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "parameters": {"type": "object", "not": {"type": "null"}},
                        },
                    }
                ],
                "tool_choice": "required",
            },
            "tools[0].function.parameters",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "paramters": {}}}]},
            "tools[0].function.paramters",
        ),
    ],
)
def test_tool_requests_that_cannot_be_served_are_400s_naming_the_field(
    backend: InProcessRealBackend, fields: dict[str, Any], param: str
) -> None:
    with backend.http() as http:
        response = http.post(
            "/v1/chat/completions", json={"messages": ASK, "max_tokens": 4, **fields}
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_a_tool_message_without_its_call_id_is_a_400(backend: InProcessRealBackend) -> None:
    messages = [*ASK, {"role": "tool", "content": "21 degrees"}]
    with backend.http() as http:
        response = http.post("/v1/chat/completions", json={"messages": messages, "max_tokens": 4})
    assert response.status_code == 400


class GetWeather(BaseModel):
    """The weather in a city."""

    city: str = Field(max_length=12)  # bounded, as a random model never ends a string itself
    unit: Literal["celsius", "fahrenheit"]


def test_langchain_bind_tools_gets_tool_calls(backend: InProcessRealBackend) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="tiny",
        base_url=f"{backend.url}/v1",
        api_key=backend.token,  # type: ignore[arg-type]
        max_tokens=200,  # type: ignore[call-arg]
        temperature=1.0,
        seed=9,
        max_retries=0,
        http_client=httpx.Client(timeout=60),
    )
    message = llm.bind_tools([GetWeather], tool_choice="GetWeather").invoke(
        "What is the weather in Oslo?"
    )
    assert [call["name"] for call in message.tool_calls] == ["GetWeather"]
    GetWeather.model_validate(message.tool_calls[0]["args"])


def test_parallel_tool_calls_lets_a_forced_reply_hold_several_calls(
    backend: InProcessRealBackend,
) -> None:
    stream = backend.openai().chat.completions.create(
        model="tiny",
        messages=ASK,
        tools=TOOLS,
        tool_choice="required",
        parallel_tool_calls=True,
        max_tokens=600,
        seed=2,
        temperature=1.0,
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    for chunk in stream:  # assembled as a client accumulates deltas, by index
        for part in chunk.choices[0].delta.tool_calls or []:
            assert part.function is not None
            call = calls.setdefault(part.index, {"name": "", "arguments": ""})
            call["name"] += part.function.name or ""
            call["arguments"] += part.function.arguments or ""
    assert sorted(calls) == list(range(len(calls))) and len(calls) > 1
    for call in calls.values():
        jsonschema.validate(json.loads(call["arguments"]), SCHEMAS[call["name"]])


def test_the_clients_parse_helper_reads_a_forced_strict_call_into_its_model(
    backend: InProcessRealBackend,
) -> None:
    completion = backend.openai().chat.completions.parse(
        model="tiny",
        messages=ASK,
        tools=[openai.pydantic_function_tool(GetWeather)],  # strict, as the helper makes it
        tool_choice={"type": "function", "function": {"name": "GetWeather"}},
        max_tokens=200,
        seed=11,
        temperature=1.0,
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert isinstance(call.function.parsed_arguments, GetWeather)


# A model that answers as Qwen does when it calls a function after a few words, in pieces that
# split the tag.
SCRIPTED_CALL = (
    "Let me",
    " check.\n<tool",
    '_call>\n{"name": "get_weather", ',
    '"arguments": {"city": "Oslo", "unit": "celsius"}}\n</tool_call>',
)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessBackend]:
    provider = FakeProvider(tokens=SCRIPTED_CALL)
    backend = serve_in_process(tmp_path_factory.mktemp("home"), provider, default_model="tiny")
    yield backend
    backend.stop()
    provider.close()


def scripted_client(backend: InProcessBackend) -> openai.OpenAI:
    token = load_or_create_token(backend.layout)
    return openai.OpenAI(base_url=f"{backend.info.url}/v1", api_key=token, max_retries=0)


def test_auto_reads_the_models_own_call_after_its_words(scripted: InProcessBackend) -> None:
    reply = scripted_client(scripted).chat.completions.create(
        model="tiny", messages=ASK, tools=TOOLS
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    (call,) = choice.message.tool_calls or []
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Oslo", "unit": "celsius"},
    )
    request = scripted.provider.requests[-1]
    assert isinstance(request, ChatRequest) and request.tool_use is not None
    assert [tool.name for tool in request.tool_use.tools] == ["get_weather", "add"]
    assert not request.tool_use.required and request.params.grammar is None


def test_auto_streams_the_words_at_once_and_the_call_at_the_end(
    scripted: InProcessBackend,
) -> None:
    stream = scripted_client(scripted).chat.completions.create(
        model="tiny", messages=ASK, tools=TOOLS, stream=True
    )
    deltas = [chunk.choices[0].delta for chunk in stream if chunk.choices]
    words = [d.content for d in deltas if d.content]
    assert words == ["Let me", " check."]  # the words before the call, as they came
    first_call = next(i for i, d in enumerate(deltas) if d.tool_calls)
    assert all(not d.content for d in deltas[first_call:])


def test_a_tool_result_turn_reaches_the_model_as_sent(scripted: InProcessBackend) -> None:
    call = {
        "id": "call_abc",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    history: Any = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "Sunny"},
    ]
    scripted_client(scripted).chat.completions.create(model="tiny", messages=history)
    request = scripted.provider.requests[-1]
    assert isinstance(request, ChatRequest) and request.tool_use is None
    assert request.messages[1:] == [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "Sunny", "tool_call_id": "call_abc"},
    ]


def strict_weather(unit: list[str]) -> list[Any]:
    parameters = WEATHER_PARAMETERS | {
        "properties": {"city": {"type": "string"}, "unit": {"enum": unit}}
    }
    function = {"name": "get_weather", "parameters": parameters, "strict": True}
    return [{"type": "function", "function": function}]


@pytest.mark.parametrize("stream", [False, True])
def test_a_strict_functions_call_chosen_freely_is_returned_only_when_it_matches(
    scripted: InProcessBackend, stream: bool
) -> None:
    """With "auto" nothing forces the model's call; `strict` still promises a call that matches
    the schema, so one that breaks it (the scripted unit is not allowed) stays text."""
    client = scripted_client(scripted)

    def ask(tools: list[Any]) -> tuple[str, str, list[Any]]:
        if not stream:
            choice = client.chat.completions.create(model="tiny", messages=ASK, tools=tools)
            (only,) = choice.choices
            return only.finish_reason, only.message.content or "", only.message.tool_calls or []
        chunks = list(
            client.chat.completions.create(model="tiny", messages=ASK, tools=tools, stream=True)
        )
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        reason = next(c.choices[0].finish_reason for c in chunks[::-1] if c.choices)
        text = "".join(d.content or "" for d in deltas)
        return reason or "", text, [call for d in deltas for call in d.tool_calls or []]

    reason, text, calls = ask(strict_weather(["kelvin"]))
    assert (reason, calls) == ("stop", []) and '"unit": "celsius"' in text
    reason, text, calls = ask(strict_weather(["celsius", "kelvin"]))
    assert reason == "tool_calls" and len(calls) >= 1 and text == "Let me check."
