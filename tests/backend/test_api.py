"""The OpenAI-compatible API of the real backend and engine, used by the official client: served
in this process, except where `hearth serve` itself is the subject."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.server.errors import install_error_handlers
from tests.backend.conftest import InProcessRealBackend, launch, prepare_home
from training.testing import build_oversized_gguf

HELLO = [{"role": "user", "content": "Hello there"}]
IM_END_ID = 2  # the tiny tokenizer's <|im_end|>, its end-of-generation token


def wait_for_recent(backend: InProcessRealBackend, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    with backend.http() as http:
        while time.monotonic() < deadline:
            status = http.get("/hearth/status").json()
            if len(status["recent"]) >= count and status["active_generations"] == 0:
                return status["recent"]
            time.sleep(0.05)
    raise AssertionError("the generation did not finish")


def test_openai_client_streams_a_chat_completion(backend: InProcessRealBackend) -> None:
    stream = backend.openai().chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=16, stream=True, temperature=0
    )
    chunks = list(stream)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_non_streaming_reports_usage_and_speed(backend: InProcessRealBackend) -> None:
    reply = backend.openai().chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=10, temperature=0
    )
    assert reply.choices[0].message.role == "assistant"
    assert reply.usage is not None and reply.usage.completion_tokens == 10
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 10
    timings = reply.model_extra["hearth"]["timings"]  # type: ignore[index]
    assert timings["generation_per_second"] > 0 and timings["prompt_tokens"] > 0


def test_seed_makes_sampling_repeatable(backend: InProcessRealBackend) -> None:
    client = backend.openai()

    def sample(seed: int) -> str | None:
        reply = client.chat.completions.create(
            model="tiny", messages=HELLO, max_tokens=12, temperature=1.0, seed=seed
        )
        return reply.choices[0].message.content

    assert sample(3) == sample(3)
    assert sample(3) != sample(4)


def test_default_model_is_used_when_none_is_named(backend: InProcessRealBackend) -> None:
    with backend.http() as http:
        reply = http.post("/v1/chat/completions", json={"messages": HELLO, "max_tokens": 2})
    assert reply.status_code == 200 and reply.json()["model"] == "tiny"


def test_text_completions_and_model_list(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    completion = client.completions.create(
        model="tiny", prompt="The fox", max_tokens=5, temperature=0
    )
    assert completion.choices[0].finish_reason == "length" and completion.choices[0].text
    assert {"tiny", "smollm2-135m-instruct"} <= {m.id for m in client.models.list()}


def test_missing_or_wrong_token_is_401(backend: InProcessRealBackend) -> None:
    assert httpx.get(f"{backend.url}/health").status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert httpx.get(f"{backend.url}/v1/models", headers=wrong).status_code == 401
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{backend.url}/v1", api_key="nope").models.list()


def test_token_file_is_private(backend: InProcessRealBackend) -> None:
    assert backend.layout.token.stat().st_mode & 0o777 == 0o600


def test_unknown_model_is_404_not_a_fallback(backend: InProcessRealBackend) -> None:
    with pytest.raises(openai.NotFoundError, match="unknown model 'missing'"):
        backend.openai().chat.completions.create(model="missing", messages=HELLO)


def test_malformed_json_and_bad_fields_are_400_and_serving_continues(
    backend: InProcessRealBackend,
) -> None:
    with backend.http() as http:
        broken = http.post(
            "/v1/chat/completions",
            content=b'{"messages": [',
            headers={"Content-Type": "application/json"},
        )
        assert broken.status_code == 400
        error = broken.json()["error"]
        assert "not valid JSON" in error["message"] and "column 15" in error["message"]
        assert (error["type"], error["param"]) == ("invalid_request_error", None)
        bad = http.post("/v1/chat/completions", json={"messages": HELLO, "temperature": 9})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "temperature"
        assert http.get("/health").json()["status"] == "ok"


def test_prompt_longer_than_context_is_a_clear_400(backend: InProcessRealBackend) -> None:
    with pytest.raises(openai.BadRequestError, match="maximum context length is 512") as caught:
        backend.openai().chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "word " * 3000}], max_tokens=8
        )
    assert caught.value.code == "context_length_exceeded"


def test_long_conversation_is_truncated_and_says_so(backend: InProcessRealBackend) -> None:
    turn = "the quick brown fox jumps over the lazy dog " * 6
    messages = [{"role": "system", "content": "You are Hearth."}]
    messages += [
        {"role": "user" if i % 2 == 0 else "assistant", "content": turn} for i in range(12)
    ]
    messages.append({"role": "user", "content": "Now?"})
    with backend.http() as http:
        reply = http.post(
            "/v1/chat/completions", json={"model": "tiny", "messages": messages, "max_tokens": 8}
        ).json()
    assert reply["hearth"]["dropped_messages"] > 0
    assert reply["usage"]["prompt_tokens"] <= 512 - 8


def test_client_disconnect_stops_generation(backend: InProcessRealBackend) -> None:
    already = len(backend.http().get("/hearth/status").json()["recent"])
    received = 0
    with backend.http() as http:
        body = {
            "model": "tiny",
            "messages": HELLO,
            "max_tokens": 480,
            "stream": True,
            "logit_bias": {str(IM_END_ID): -100},  # no early end: it must be cut short
        }
        with http.stream("POST", "/v1/chat/completions", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    received += 1
                if received == 3:
                    break
    last = wait_for_recent(backend, min(already + 1, 20))[-1]
    assert last["finish_reason"] == "cancelled"
    assert last["completion_tokens"] < 480


def test_twenty_concurrent_streams_complete_without_interleaving(
    backend: InProcessRealBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # All twenty wait their turn in a line long enough (by default a sixth would get a 429).
    monkeypatch.setattr(backend.served.services.generations.queue, "depth", 20)
    client = backend.openai()

    def ask(i: int, stream: bool) -> str:
        messages = [{"role": "user", "content": f"Question number {i}"}]
        kwargs = {"model": "tiny", "messages": messages, "max_tokens": 24, "temperature": 0}
        if not stream:
            return client.chat.completions.create(**kwargs).choices[0].message.content or ""
        chunks = list(client.chat.completions.create(stream=True, **kwargs))
        assert len({c.id for c in chunks}) == 1
        return "".join(c.choices[0].delta.content or "" for c in chunks)

    with ThreadPoolExecutor(20) as pool:
        streamed = list(pool.map(lambda i: ask(i, True), range(20)))
    alone = [ask(i, False) for i in range(20)]
    assert streamed == alone
    assert len(set(alone)) > 1, "different prompts should give different answers"


def test_oversized_model_is_refused_with_both_numbers(backend: InProcessRealBackend) -> None:
    build_oversized_gguf(backend.layout.models / "huge.gguf", gib=512)
    with pytest.raises(openai.BadRequestError, match=r"needs about 51\d\.\d GiB.*only") as err:
        backend.openai().chat.completions.create(model="huge", messages=HELLO)
    assert err.value.code == "model_too_large"
    with backend.http() as http:
        listed = {m["name"]: m for m in http.get("/hearth/models").json()}
    assert listed["huge"]["memory"]["fits"] is False
    assert listed["tiny"]["memory"]["fits"] is True
    (backend.layout.models / "huge.gguf").unlink()


def test_corrupt_gguf_import_is_400_and_serving_continues(
    backend: InProcessRealBackend, tiny_gguf: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(tiny_gguf.read_bytes()[:20_000])
    text_file = tmp_path / "readme.gguf"
    text_file.write_text("hello")
    with backend.http() as http:
        for path, reason in ((truncated, "truncated"), (text_file, "not a GGUF")):
            response = http.post("/hearth/models/import", json={"path": str(path)})
            assert response.status_code == 400
            assert reason in response.json()["error"]["message"]
            assert str(path) in response.json()["error"]["message"]
        good = http.post("/hearth/models/import", json={"path": str(tiny_gguf), "name": "again"})
        assert good.status_code == 201 and good.json()["source"] == "imported"
        reply = http.post(
            "/v1/chat/completions", json={"model": "again", "messages": HELLO, "max_tokens": 3}
        )
        assert reply.status_code == 200


def test_openapi_schema_documents_the_routes(backend: InProcessRealBackend) -> None:
    with backend.http() as http:
        paths = http.get("/openapi.json").json()["paths"]
    for route in ("/v1/chat/completions", "/v1/completions", "/v1/models", "/hearth/conversations"):
        assert route in paths


def test_backend_json_names_the_serving_process(tmp_path: Path, tiny_gguf: Path) -> None:
    backend = launch(prepare_home(tmp_path / "home", tiny_gguf))
    try:
        info = json.loads(backend.layout.backend_info.read_text())
        assert info["pid"] == backend.process.pid and info["port"] == backend.info.port
    finally:
        backend.stop()


def test_routing_and_parsing_errors_have_the_openai_shape(backend: InProcessRealBackend) -> None:
    with backend.http() as http:
        unknown_route = http.get("/v1/nope")
        wrong_method = http.delete("/v1/models")
        not_utf8 = http.post(
            "/v1/chat/completions",
            content=b'{"messages": "\xff"}',
            headers={"Content-Type": "application/json"},
        )
    expected = (
        (unknown_route, 404, "not_found"),
        (wrong_method, 405, "method_not_allowed"),
        (not_utf8, 400, "bad_request"),
    )
    for response, status, code in expected:
        assert response.status_code == status
        assert response.json()["error"]["code"] == code, response.text
    assert "GET /v1/nope" in unknown_route.json()["error"]["message"]
    assert "GET" in wrong_method.headers["allow"]


def test_unexpected_errors_are_logged_and_answered_as_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("the disk fell out")

    response = TestClient(app, raise_server_exceptions=False).get("/broken")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "the disk fell out" in response.json()["error"]["message"]
    assert "Traceback" in caplog.text


def test_lone_surrogates_are_400_naming_the_field(backend: InProcessRealBackend) -> None:
    broken = "a\ud800"  # valid JSON ("a\\ud800") but not encodable text
    cases = (
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": broken}]},
            "messages[0].content",
        ),
        ("/v1/completions", {"prompt": broken, "max_tokens": 2}, "prompt"),
        ("/v1/embeddings", {"input": ["fine", broken]}, "input[1]"),
        ("/hearth/conversations", {"title": broken}, "title"),
        ("/v1/chat/completions", {"messages": HELLO, "metadata": {broken: "x"}}, "metadata.a"),
    )
    with backend.http() as http:
        for route, body, field in cases:
            response = http.post(
                route, content=json.dumps(body), headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400, (route, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_body" and field in error["message"], error
            assert error["param"] is not None and error["param"].startswith(field), error


def test_empty_completion_prompt_is_a_clear_400(backend: InProcessRealBackend) -> None:
    with pytest.raises(openai.BadRequestError, match="prompt is empty") as caught:
        backend.openai().completions.create(model="tiny", prompt="", max_tokens=3)
    assert caught.value.code == "empty_prompt"
    with backend.http() as http:
        for body in ({"prompt": []}, {"prompt": "", "stream": True, "max_tokens": 3}):
            response = http.post("/v1/completions", json=body)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "empty_prompt"


def test_logit_bias_outside_the_vocabulary_or_range_is_refused(
    backend: InProcessRealBackend,
) -> None:
    with pytest.raises(openai.BadRequestError, match="999999.*vocabulary") as caught:
        backend.openai().chat.completions.create(
            model="tiny", messages=HELLO, max_tokens=3, logit_bias={"999999": 5}
        )
    assert (caught.value.code, caught.value.param) == ("invalid_logit_bias", "logit_bias")
    with backend.http() as http:
        for bias in ('{"-1": 100}', '{"5": 101}', '{"5": NaN}', '{"5": -Infinity}'):
            response = http.post(
                "/v1/chat/completions",
                content=f'{{"messages": {json.dumps(HELLO)}, "logit_bias": {bias}}}',
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 400, (bias, response.text)
            assert response.json()["error"]["param"].startswith("logit_bias"), response.text


def test_openai_client_retrieves_one_model(backend: InProcessRealBackend) -> None:
    client = backend.openai()
    model = client.models.retrieve("tiny")
    assert (model.id, model.object, model.owned_by) == ("tiny", "model", "user")
    with pytest.raises(openai.NotFoundError, match="unknown model 'missing'") as caught:
        client.models.retrieve("missing")
    assert caught.value.code == "model_not_found"


def test_import_with_a_bad_name_is_a_clear_400(
    backend: InProcessRealBackend, tiny_gguf: Path
) -> None:
    with backend.http() as http:
        for name in ("a/b", "../../evil", "", "tab\there"):
            response = http.post(
                "/hearth/models/import", json={"path": str(tiny_gguf), "name": name}
            )
            assert response.status_code == 400, (name, response.text)
            assert response.json()["error"]["code"] == "invalid_model_name"
        names = {m["id"] for m in http.get("/v1/models").json()["data"]}
    assert not names & {"a/b", "../../evil", "", "tab\there"}
