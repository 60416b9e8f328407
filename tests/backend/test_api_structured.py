"""Structured output, log-probabilities and llama.cpp's sampling fields through the official
`openai` client, against the real engine serving a tiny random-weight model: a model that cannot
write JSON on its own, so only the grammar can make its replies parse."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import openai
import pytest
from pydantic import BaseModel

from tests.backend.conftest import InProcessRealBackend

ASK = [{"role": "user", "content": "Describe a person as JSON."}]
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer"},
        "mood": {"enum": ["calm", "busy", "tired"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
        "admin": {"type": "boolean"},
    },
    "required": ["name", "age", "mood", "tags", "admin"],
    "additionalProperties": False,
}


class Pet(BaseModel):
    name: str
    legs: int
    indoor: bool


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_json_schema_replies_parse_and_match_the_schema(
    backend: InProcessRealBackend, seed: int
) -> None:
    reply = backend.openai().chat.completions.create(
        model="tiny",
        messages=ASK,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": PERSON, "strict": True},
        },
        max_tokens=400,
        seed=seed,
        temperature=1.0,
    )
    assert reply.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(reply.choices[0].message.content or ""), PERSON)


def token_id(model: Path, text: str) -> int:
    from llama_cpp import Llama

    llama = Llama(model_path=str(model), vocab_only=True, verbose=False)
    (token,) = llama.tokenize(text.encode(), add_bos=False, special=False)
    llama.close()
    return token


@pytest.mark.parametrize("seed", [4, 5])
def test_json_object_mode_gives_a_json_object(
    backend: InProcessRealBackend, tiny_gguf: Path, seed: int
) -> None:
    """Any object is allowed, so nothing bounds a string's length: a bias towards the closing
    quote keeps the random model's keys short enough to finish within the token limit."""
    reply = backend.openai().chat.completions.create(
        model="tiny",
        messages=ASK,
        response_format={"type": "json_object"},
        logit_bias={str(token_id(tiny_gguf, '"')): 4},
        max_tokens=400,
        seed=seed,
    )
    assert reply.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_the_clients_parse_helper_gets_a_validated_model(backend: InProcessRealBackend) -> None:
    """`chat.completions.parse` sends the pydantic model's strict schema, as instructor-like
    libraries do, and validates the reply into the model."""
    reply = backend.openai().chat.completions.parse(
        model="tiny", messages=ASK, response_format=Pet, max_tokens=300, seed=5
    )
    assert isinstance(reply.choices[0].message.parsed, Pet)


def test_streamed_json_schema_reply_parses_once_joined(backend: InProcessRealBackend) -> None:
    stream = backend.openai().chat.completions.create(
        model="tiny",
        messages=ASK,
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}},
        max_tokens=400,
        seed=6,
        stream=True,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    jsonschema.validate(json.loads(text), PERSON)


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"type": "integer", "minimum": 3}, "'minimum' at #"),
        ({"type": "object", "properties": {"x": {"not": {}}}}, "'not' at #/properties/x"),
        ({"$ref": "https://example.com/s.json"}, "not local"),
        ({"type": "decimal"}, "unknown type 'decimal'"),
        ({"properties": {"a": {}}, "anyOf": [{"required": ["a"]}]}, "'anyOf' at # together"),
        ({"type": "string", "allOf": [{"maxLength": 3}]}, "'allOf' at # is enforced only"),
    ],
)
def test_a_schema_the_grammar_cannot_enforce_is_a_400_naming_the_part(
    backend: InProcessRealBackend, schema: dict, named: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        backend.openai().chat.completions.create(
            model="tiny",
            messages=ASK,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
            max_tokens=5,
        )
    assert named in caught.value.message


def greedy_direct(model: Path, prompt: str, steps: int, top: int) -> list[tuple[bytes, float]]:
    """Greedy decoding with llama-cpp-python itself: each token and its log-probability, from a
    log-softmax over the logits llama.cpp computed for that position."""
    from llama_cpp import Llama

    llama = Llama(model_path=str(model), n_ctx=512, logits_all=True, verbose=False)
    tokens = llama.tokenize(prompt.encode(), add_bos=True)
    found = []
    for _ in range(steps):
        llama.reset()
        llama.eval(tokens)
        logits = np.array(llama.scores[len(tokens) - 1], dtype=np.float64)
        logprobs = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
        token = int(np.argmax(logprobs))
        found.append((bytes(llama.detokenize([token], special=True)), float(logprobs[token])))
        tokens.append(token)
    llama.close()
    return found


def test_completion_logprobs_equal_a_direct_computation(
    backend: InProcessRealBackend, tiny_gguf: Path
) -> None:
    prompt = "The quick brown fox"
    reply = backend.openai().completions.create(
        model="tiny", prompt=prompt, max_tokens=6, temperature=0, logprobs=3
    )
    scores = reply.choices[0].logprobs
    assert scores is not None and scores.token_logprobs and scores.tokens
    direct = greedy_direct(tiny_gguf, prompt, len(scores.tokens), 3)
    assert scores.tokens == [token.decode("utf-8", "replace") for token, _ in direct]
    assert scores.token_logprobs == pytest.approx([lp for _, lp in direct], abs=1e-4)
    for chosen, alternatives in zip(scores.tokens, scores.top_logprobs or [], strict=True):
        assert len(alternatives) == 3 and max(alternatives, key=alternatives.get) == chosen
    assert "".join(scores.tokens) == reply.choices[0].text


def test_chat_logprobs_have_openais_shape_and_cover_the_reply(
    backend: InProcessRealBackend,
) -> None:
    reply = backend.openai().chat.completions.create(
        model="tiny", messages=ASK, max_tokens=8, temperature=0, logprobs=True, top_logprobs=2
    )
    content = reply.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content and len(content) == reply.usage.completion_tokens  # type: ignore[union-attr]
    replied = b"".join(bytes(entry.bytes or []) for entry in content)
    assert replied.decode("utf-8", "replace") == reply.choices[0].message.content
    for entry in content:
        assert len(entry.top_logprobs) == 2 and entry.logprob <= 0
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob)  # greedy
        assert entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob


def test_streamed_chat_logprobs_arrive_with_their_text(backend: InProcessRealBackend) -> None:
    stream = backend.openai().chat.completions.create(
        model="tiny", messages=ASK, max_tokens=8, temperature=0, logprobs=True, stream=True
    )
    text, pieces = "", b""
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
            pieces += b"".join(bytes(e.bytes or []) for e in chunk.choices[0].logprobs.content)  # type: ignore[union-attr]
    assert text and pieces.decode("utf-8", "replace") == text


def test_penalties_and_llama_cpp_sampling_fields_change_the_reply(
    backend: InProcessRealBackend,
) -> None:
    """Accepted and applied, not dropped: each field, at a strong setting, changes what the
    same seed produces."""
    client = backend.openai()

    def reply(**fields: object) -> str:
        answer = client.chat.completions.create(
            model="tiny", messages=ASK, max_tokens=24, seed=7, temperature=1.0, extra_body=fields
        )
        return answer.choices[0].message.content or ""

    plain = reply()
    assert reply(presence_penalty=2.0) != plain
    assert reply(frequency_penalty=2.0) != plain
    assert reply(repeat_penalty=3.0) != plain
    assert reply(top_k=1) != plain
    assert reply(min_p=0.9) != plain


def test_top_logprobs_without_logprobs_is_refused(backend: InProcessRealBackend) -> None:
    with pytest.raises(openai.BadRequestError, match="top_logprobs needs logprobs"):
        backend.openai().chat.completions.create(
            model="tiny", messages=ASK, max_tokens=2, top_logprobs=2
        )


def test_an_unknown_field_inside_response_format_is_refused_by_name(
    backend: InProcessRealBackend,
) -> None:
    with backend.http() as http:
        answer = http.post(
            "/v1/chat/completions",
            json={
                "messages": ASK,
                "max_tokens": 2,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": PERSON, "grammar": "root ::= x"},
                },
            },
        )
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "response_format.json_schema.grammar"
