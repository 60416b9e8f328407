"""Chat through a remote OpenAI-compatible server: a second `hearth serve` plays the remote."""

from __future__ import annotations

from pathlib import Path

from tests.backend.conftest import launch, prepare_home


def test_chat_goes_through_the_remote_server(tmp_path: Path, tiny_gguf: Path) -> None:
    remote = launch(prepare_home(tmp_path / "remote", tiny_gguf))
    front = None
    try:
        front_home = prepare_home(
            tmp_path / "front",
            tiny_gguf,
            remote_llm_url=f"{remote.url}/v1",
            remote_llm_api_key=remote.token,
        )
        (front_home.models / "tiny.gguf").unlink()  # the front has no model of its own
        front = launch(front_home)
        ask = {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}]}
        ask |= {"max_tokens": 12, "temperature": 0}
        direct = remote.openai().chat.completions.create(**ask)
        relayed = front.openai().chat.completions.create(**ask)
        assert relayed.choices[0].message.content == direct.choices[0].message.content
        assert relayed.usage is not None and relayed.usage.completion_tokens == 12
        streamed = front.openai().chat.completions.create(stream=True, **ask)
        text = "".join(c.choices[0].delta.content or "" for c in streamed)
        assert text == direct.choices[0].message.content
        penalised = ask | {"presence_penalty": 2.0, "top_k": 1, "seed": 3, "temperature": 1.0}
        relayed_penalised = front.http().post("/v1/chat/completions", json=penalised).json()
        direct_penalised = remote.http().post("/v1/chat/completions", json=penalised).json()
        assert relayed_penalised["choices"] == direct_penalised["choices"]  # passed on, applied
        with front.http() as http:
            unknown = http.post("/v1/chat/completions", json=ask | {"model": "ghost"})
            assert unknown.status_code == 404 and "remote" in unknown.json()["error"]["message"]
            for field, value in [
                ("response_format", {"type": "json_object"}),
                ("logprobs", True),
            ]:
                refused = http.post("/v1/chat/completions", json=ask | {field: value})
                assert refused.status_code == 400
                assert f"'{field}' is not supported" in refused.json()["error"]["message"]
    finally:
        if front is not None:
            front.stop()
        remote.stop()
