"""Reading calls out of replies in every known format, holding them back while streaming,
rendering functions, calls and results into prompts, and the grammars that force a call."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from backend.llm.chat_template import render_chat
from backend.llm.grammar import UnsupportedSchemaError
from backend.llm.remote import RemoteProvider, RemoteUnsupportedError
from backend.llm.tool_calls import ToolCallStream, parse_reply
from backend.llm.tool_grammar import (
    HERMES,
    LLAMA3,
    MISTRAL,
    MISTRAL_NAMED_ARGS,
    ParallelCallsUnsupportedError,
    check_tools,
    format_for,
    settle_tool_use,
    tool_call_grammar,
)
from backend.llm.types import ChatRequest, PromptMessage, ToolSpec, ToolUse

OFFERED = frozenset({"get_weather", "add"})
WEATHER = {"city": "Oslo", "unit": "celsius"}
WEATHER_TOOL = ToolSpec(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
ADD_TOOL = ToolSpec(
    "add",
    "Add two numbers.",
    {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/n"}, "b": {"$ref": "#/$defs/n"}},
        "required": ["a", "b"],
        "$defs": {"n": {"type": "integer"}},
    },
)


def calls_of(text: str, parallel: bool = True) -> list[tuple[str, Any]]:
    return [(c.name, json.loads(c.arguments)) for c in parse_reply(text, OFFERED, parallel).calls]


@pytest.mark.parametrize(
    "reply",
    [
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}'
        "</tool_call>",  # Hermes and Hearth's fallback prompt
        '<tool_call>\n{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\", '
        '\\"unit\\": \\"celsius\\"}"}\n</tool_call>',  # arguments as a JSON string
        '{"name": "get_weather", "parameters": {"city": "Oslo", "unit": "celsius"}}',  # Llama 3
        '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo", "unit": "celsius"}}',
        '{"type": "function", "name": "get_weather", "parameters": '
        '{"city": "Oslo", "unit": "celsius"}}',
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}]',
        '[{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}]',  # no marker
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo", "unit": "celsius"}',  # newer Mistral
    ],
)
def test_each_format_gives_the_call(reply: str) -> None:
    parsed = parse_reply(reply, OFFERED)
    assert parsed.content is None
    assert [(c.name, json.loads(c.arguments)) for c in parsed.calls] == [("get_weather", WEATHER)]
    assert all(c.id.startswith("call_") and len(c.id) > 10 for c in parsed.calls)


@pytest.mark.parametrize(
    "reply",
    [
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>\n'
        '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>',
        '{"name": "get_weather", "parameters": {"city": "Oslo"}}; '
        '{"name": "add", "parameters": {"a": 1, "b": 2}}',
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo"}}, '
        '{"name": "add", "arguments": {"a": 1, "b": 2}}]',
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}[TOOL_CALLS]add[ARGS]{"a": 1, "b": 2}',
    ],
)
def test_several_calls_are_read_in_order_or_only_the_first_without_parallel(reply: str) -> None:
    both = [("get_weather", {"city": "Oslo"}), ("add", {"a": 1, "b": 2})]
    assert calls_of(reply) == both
    assert calls_of(reply, parallel=False) == both[:1]
    ids = [call.id for call in parse_reply(reply, OFFERED).calls]
    assert len(set(ids)) == 2


def test_text_before_a_call_stays_content() -> None:
    parsed = parse_reply(
        'Let me look that up.\n<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}'
        "</tool_call>",
        OFFERED,
    )
    assert parsed.content == "Let me look that up."
    assert [c.name for c in parsed.calls] == ["add"]


@pytest.mark.parametrize(
    "reply",
    [
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Os',  # cut off
        '<tool_call>{"name": "get_weather", "arguments": [1, 2]}</tool_call>',  # not an object
        '<tool_call>{"name": "launch_rockets", "arguments": {}}</tool_call>',  # not offered
        "<tool_call>not json</tool_call>",
        '{"answer": 42}',  # JSON, but not a call
        "[1, 2, 3] are the first numbers.",
        '[TOOL_CALLS]get_weather[ARGS]{"city": ',
        "<|python_tag|>print('hello')",
        "",
        pytest.param("[" * 100_000, id="nested-past-the-json-readers-depth"),
        pytest.param("<tool_call>" + "[" * 100_000 + "</tool_call>", id="nested-in-a-block"),
    ],
)
def test_malformed_calls_stay_plain_text(reply: str) -> None:
    parsed = parse_reply(reply, OFFERED)
    assert parsed.calls == ()
    assert parsed.content == reply.strip()


def test_raw_control_characters_in_strings_are_read_and_handed_on_escaped() -> None:
    (call,) = parse_reply('{"name": "add", "arguments": {"a": "x\ty\x01"}}', OFFERED).calls
    assert call.arguments == '{"a": "x\\ty\\u0001"}'
    assert json.loads(call.arguments) == {"a": "x\ty\x01"}


def stream_through(pieces: list[str]) -> tuple[list[str], str, Any]:
    stream = ToolCallStream(OFFERED)
    shown = [stream.push(piece) for piece in pieces]
    rest, parsed = stream.finish()
    return shown, rest, parsed


def test_streaming_shows_text_at_once_and_holds_the_call_until_the_end() -> None:
    reply = 'Checking.\n<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'
    shown, rest, parsed = stream_through(list(reply))  # one character at a time
    assert "".join(shown) == "Checking."
    assert rest == ""
    assert parsed.content == "Checking." and [c.name for c in parsed.calls] == ["add"]
    assert "".join(shown[: len("Checking.")]) == "Checking."  # before the marker began


def test_streaming_holds_a_possible_marker_and_releases_it_when_it_is_not_one() -> None:
    shown, rest, parsed = stream_through(["1 ", "<", "to", "mato> is red"])
    assert shown == ["1", "", "", " <tomato> is red"]
    assert rest == "" and parsed.calls == () and parsed.content == "1 <tomato> is red"


def test_streaming_a_reply_that_opens_with_json_waits_for_the_end() -> None:
    shown, rest, parsed = stream_through(['{"name": "add", ', '"parameters": {"a": 1, "b": 2}}'])
    assert shown == ["", ""] and rest == "" and [c.name for c in parsed.calls] == ["add"]
    shown, rest, parsed = stream_through(["[1, 2]", " are numbers. "])
    assert shown == ["", ""] and rest == "[1, 2] are numbers." and parsed.calls == ()


def test_streamed_content_equals_the_whole_reply_read_at_once() -> None:
    reply = "  Sure!  \n\n<tool_call>broken</tool_call> after "
    shown, rest, parsed = stream_through(list(reply))
    assert "".join(shown) + rest == parse_reply(reply, OFFERED).content == reply.strip()


HISTORY: list[PromptMessage] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Oslo and Bergen?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Bergen"}'},
            },
        ],
    },
    {"role": "tool", "content": "Sunny, 21 degrees", "tool_call_id": "call_1"},
    {"role": "tool", "content": "Rain, 12 degrees", "tool_call_id": "call_2"},
]


def test_the_fallback_prompt_lists_the_functions_and_renders_calls_and_results() -> None:
    tool_use = ToolUse((WEATHER_TOOL, ADD_TOOL))
    prompt = render_chat(HISTORY, None, tool_use=tool_use)  # ChatML: no tools of its own
    system = prompt.split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\nBe brief.\n\n# Tools")
    assert json.dumps(WEATHER_TOOL.as_openai()["function"]) in system
    assert '<tool_call>{"name": "<function name>", "arguments": ' in system
    assert (
        '<|im_start|>assistant\n<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}'
        '</tool_call>\n<tool_call>{"name": "get_weather", "arguments": {"city": "Bergen"}}'
        "</tool_call><|im_end|>"
    ) in prompt
    # Both results in one user turn, each named by the call it answers.
    assert (
        '<|im_start|>user\n<tool_response name="get_weather">\nSunny, 21 degrees\n'
        '</tool_response>\n<tool_response name="get_weather">\nRain, 12 degrees\n'
        "</tool_response><|im_end|>\n<|im_start|>assistant\n"
    ) in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_the_fallback_prompt_says_what_tool_choice_and_parallel_calls_ask() -> None:
    messages: list[PromptMessage] = [{"role": "user", "content": "Hi"}]
    named = render_chat(messages, None, tool_use=ToolUse((WEATHER_TOOL,), True, "get_weather"))
    assert named.startswith("<|im_start|>system\n# Tools")
    assert "Call the function get_weather now." in named
    one = render_chat(messages, None, tool_use=ToolUse((WEATHER_TOOL,), parallel=False))
    assert "Call at most one function in a reply." in one
    assert "Call at most one" not in named
    assert "# Tools" not in render_chat(messages, None)


# A tool-aware template in the style of Qwen 2.5's: it reads `tools`, `tool_calls` (arguments as
# objects) and tool messages.
TOOL_TEMPLATE = (
    "{% if tools %}<tools>{% for tool in tools %}{{ tool | tojson }}{% endfor %}</tools>\n"
    "{% endif %}"
    "{% for message in messages %}"
    "{% if message.role == 'assistant' and message.tool_calls %}"
    "{% for call in message.tool_calls %}<tool_call>{{ call.function.name }}"
    "({{ call.function.arguments.city }})</tool_call>{% endfor %}\n"
    "{% elif message.role == 'tool' %}<tool_response>{{ message.name }}: {{ message.content }}"
    "</tool_response>\n"
    "{% else %}{{ message.role }}: {{ message.content }}\n{% endif %}"
    "{% endfor %}"
)


def test_a_tool_aware_template_receives_tools_calls_and_results_as_transformers_passes_them() -> (
    None
):
    prompt = render_chat(HISTORY, TOOL_TEMPLATE, tool_use=ToolUse((WEATHER_TOOL,)))
    assert prompt.startswith(f"<tools>{json.dumps(WEATHER_TOOL.as_openai())}</tools>\n")
    assert "<tool_call>get_weather(Oslo)</tool_call><tool_call>get_weather(Bergen)</tool_call>" in (
        prompt
    )
    assert "<tool_response>get_weather: Rain, 12 degrees</tool_response>" in prompt
    assert "# Tools" not in prompt
    assert not render_chat(HISTORY, TOOL_TEMPLATE).startswith("<tools>")  # none offered


# Qwen 2.5's chat template, as its tokenizer_config.json carries it (the default system prompt
# shortened): a template that renders tools, calls and results itself.
QWEN25_TEMPLATE = (
    "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- if messages[0]['role'] == 'system' %}"
    "{{- messages[0]['content'] }}{%- else %}{{- 'You are Qwen.' }}{%- endif %}"
    '{{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.'
    '\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}'
    '{%- for tool in tools %}{{- "\\n" }}{{- tool | tojson }}{%- endfor %}'
    '{{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and '
    'arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": '
    '<function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}'
    "{%- else %}{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}{%- endif %}{%- endif %}"
    "{%- for message in messages %}"
    '{%- if (message.role == "user") or (message.role == "system" and not loop.first) or '
    '(message.role == "assistant" and not message.tool_calls) %}'
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- elif message.role == \"assistant\" %}{{- '<|im_start|>' + message.role }}"
    "{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}"
    "{%- for tool_call in message.tool_calls %}"
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}"
    '{{- \'\\n<tool_call>\\n{"name": "\' }}{{- tool_call.name }}{{- \'", "arguments": \' }}'
    "{{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    '{%- elif message.role == "tool" %}'
    '{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}'
    "{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}"
    '{%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}'
    "{{- '<|im_end|>\\n' }}{%- endif %}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def test_qwens_own_template_renders_the_tools_calls_and_results() -> None:
    prompt = render_chat(HISTORY, QWEN25_TEMPLATE, tool_use=ToolUse((WEATHER_TOOL,)))
    tool = json.dumps(WEATHER_TOOL.as_openai())
    assert prompt == (
        "<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions to assist "
        "with the user query.\n\nYou are provided with function signatures within <tools></tools>"
        f" XML tags:\n<tools>\n{tool}\n</tools>\n\nFor each function call, return a json object "
        "with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\nWeather in Oslo and Bergen?<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": '
        '{"city": "Oslo"}}\n</tool_call>\n<tool_call>\n{"name": "get_weather", "arguments": '
        '{"city": "Bergen"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\nSunny, 21 degrees\n</tool_response>\n"
        "<tool_response>\nRain, 12 degrees\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert format_for(QWEN25_TEMPLATE) is HERMES


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (None, HERMES),
        ("{{ messages }}", HERMES),  # knows no tools: the fallback prompt's tags
        ("{% if tools %}<tool_call>{% endif %}", HERMES),
        ("{% if tools %}<|python_tag|>{% endif %}", LLAMA3),
        ("{% if tools %}[TOOL_CALLS]{% endif %}", MISTRAL),
        ("{% if tools %}[TOOL_CALLS]{{ name }}[ARGS]{% endif %}", MISTRAL_NAMED_ARGS),
    ],
)
def test_the_call_format_follows_the_template(template: str | None, expected: Any) -> None:
    assert format_for(template) is expected


@pytest.fixture(scope="module")
def tiny_llama(tiny_gguf: Path) -> Iterator[Any]:
    from llama_cpp import Llama

    llama = Llama(model_path=str(tiny_gguf), n_ctx=512, n_threads=2, verbose=False)
    yield llama
    llama.close()


BOUNDED_WEATHER = ToolSpec(
    "get_weather",
    "",
    {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 8}, "unit": {"enum": ["c", "f"]}},
        "required": ["city", "unit"],
    },
)


@pytest.mark.parametrize(
    ("call_format", "parallel"),
    [
        (HERMES, False),
        (HERMES, True),
        (LLAMA3, False),  # Llama 3's format holds one call
        (MISTRAL, False),
        (MISTRAL, True),
        (MISTRAL_NAMED_ARGS, False),
        (MISTRAL_NAMED_ARGS, True),
    ],
)
def test_each_formats_grammar_makes_a_random_model_write_calls_that_parse(
    tiny_llama: Any, call_format: Any, parallel: bool
) -> None:
    from llama_cpp import LlamaGrammar, llama_vocab_is_eog

    tool_use = ToolUse((BOUNDED_WEATHER, ADD_TOOL), required=True, parallel=parallel)
    grammar = LlamaGrammar.from_string(tool_call_grammar(tool_use, call_format), verbose=False)
    for seed in (1, 2):
        tiny_llama.set_seed(seed)
        prompt = tiny_llama.tokenize(b"Weather?")
        tokens = []
        for token in tiny_llama.generate(prompt, temp=1.0, grammar=grammar):
            if llama_vocab_is_eog(tiny_llama._model.vocab, token) or len(tokens) == 400:
                break
            tokens.append(token)
        text = tiny_llama.detokenize(tokens).decode()
        parsed = parse_reply(text, OFFERED, parallel)
        assert parsed.calls and parsed.content is None, text
        schemas = {"get_weather": BOUNDED_WEATHER.parameters, "add": ADD_TOOL.parameters}
        for call in parsed.calls:
            jsonschema.validate(json.loads(call.arguments), schemas[call.name])


def test_a_named_choice_grammar_allows_only_that_function() -> None:
    grammar = tool_call_grammar(ToolUse((WEATHER_TOOL, ADD_TOOL), True, "add"), HERMES)
    assert '\\"add\\"' in grammar and "get_weather" not in grammar


def test_parallel_calls_are_refused_where_the_format_holds_one() -> None:
    llama_template = "{% if tools %}<|python_tag|>{% endif %}"
    request = ChatRequest("m", [], tool_use=ToolUse((WEATHER_TOOL,), True, parallel=True))
    with pytest.raises(ParallelCallsUnsupportedError) as refused:
        settle_tool_use(request, llama_template)
    assert refused.value.param == "parallel_tool_calls"
    unset = ChatRequest("m", [], tool_use=ToolUse((WEATHER_TOOL,), True))
    assert settle_tool_use(unset, llama_template).params.grammar


def test_only_a_forced_call_gets_a_grammar() -> None:
    auto = ChatRequest("m", [], tool_use=ToolUse((WEATHER_TOOL,)))
    assert settle_tool_use(auto, None) == auto
    forced = settle_tool_use(ChatRequest("m", [], tool_use=ToolUse((WEATHER_TOOL,), True)), None)
    assert forced.params.grammar and forced.params.grammar.startswith('root ::= "<tool_call>"')


def test_a_parameter_schema_the_grammar_cannot_enforce_is_refused_by_its_place() -> None:
    bad = ToolSpec(
        "f", "", {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}
    )
    with pytest.raises(UnsupportedSchemaError) as refused:
        check_tools([WEATHER_TOOL, bad])
    assert refused.value.param == "tools[1].function.parameters"
    assert "minimum" in str(refused.value)


def test_a_remote_server_is_not_offered_tools_but_a_400_naming_them() -> None:
    provider = RemoteProvider("http://127.0.0.1:9/v1")  # refused before any request
    request = ChatRequest("m", [{"role": "user", "content": "Hi"}], tool_use=ToolUse((ADD_TOOL,)))
    try:
        with pytest.raises(RemoteUnsupportedError) as refused:
            provider.start_chat(request, lambda _event: None, threading.Event())
    finally:
        provider.close()
    assert refused.value.status == 400 and refused.value.param == "tools"


# The part of Mistral's templates that checks call ids (and mentions tools, as they all do).
MISTRAL_IDS_TEMPLATE = (
    "{% if tools %}[AVAILABLE_TOOLS]{% endif %}{% for message in messages %}"
    "{% if message.tool_calls %}{% for call in message.tool_calls %}"
    "{% if call.id | length != 9 %}"
    "{{ raise_exception('Tool call IDs should be alphanumeric strings with length 9!') }}"
    "{% endif %}[TOOL_CALLS]{{ call.id }} {% endfor %}"
    "{% elif message.role == 'tool' %}[TOOL_RESULTS]{{ message.tool_call_id }} {% endif %}"
    "{% endfor %}"
)


def test_call_ids_reach_mistrals_templates_as_nine_characters_that_still_pair_up() -> None:
    prompt = render_chat(HISTORY, MISTRAL_IDS_TEMPLATE)
    called = re.findall(r"\[TOOL_CALLS\](\S+) ", prompt)
    answered = re.findall(r"\[TOOL_RESULTS\](\S+) ", prompt)
    assert called == answered and len(set(called)) == 2
    assert all(len(call_id) == 9 and call_id.isalnum() for call_id in called)
