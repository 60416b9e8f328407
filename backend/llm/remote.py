"""Chat through any OpenAI-compatible server (llama-server, vLLM, Ollama, another Hearth)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from backend import sse
from backend.errors import HearthError
from backend.llm.types import (
    ChatRequest,
    CompletionRequest,
    EventSink,
    Finished,
    ResolvedModel,
    SamplingParams,
    Timings,
    Token,
)
from backend.models.registry import UnknownModelError


class RemoteError(HearthError, RuntimeError):
    """The remote server failed or answered with an error."""

    status = 502
    code = "remote_llm_failed"


def _sampling_fields(params: SamplingParams) -> dict[str, Any]:
    fields: dict[str, Any] = {"temperature": params.temperature, "top_p": params.top_p}
    if params.max_tokens:
        fields["max_tokens"] = params.max_tokens
    if params.seed is not None:
        fields["seed"] = params.seed
    if params.stop:
        fields["stop"] = list(params.stop)
    if params.logit_bias:
        fields["logit_bias"] = {str(token): bias for token, bias in params.logit_bias}
    return fields


class RemoteProvider:
    """Streams from `{base_url}/v1/...`; several requests may run at once."""

    def __init__(self, base_url: str, api_key: str | None = None, max_parallel: int = 4) -> None:
        root = base_url.rstrip("/").removesuffix("/v1")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=f"{root}/v1", headers=headers, timeout=httpx.Timeout(30.0, read=None)
        )
        self._pool = ThreadPoolExecutor(max_parallel, thread_name_prefix="remote-llm")

    def check_model(self, name: str) -> ResolvedModel:
        try:
            response = self._http.get("/models")
            response.raise_for_status()
            known = [model["id"] for model in response.json()["data"]]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            url = self._http.base_url
            raise RemoteError(f"the remote LLM server at {url} failed: {exc}") from exc
        if name not in known:
            raise UnknownModelError(
                f"unknown model '{name}' on the remote server (known: {', '.join(known)})"
            )
        return ResolvedModel(name, vision=False)  # images reach it as CLIP labels in the text

    def start_chat(
        self, request: ChatRequest, sink: EventSink, cancel: threading.Event
    ) -> Future[None]:
        body = {"model": request.model, "messages": request.messages}
        return self._pool.submit(self._stream, "/chat/completions", body, request, sink, cancel)

    def start_completion(
        self, request: CompletionRequest, sink: EventSink, cancel: threading.Event
    ) -> Future[None]:
        body = {"model": request.model, "prompt": request.prompt}
        return self._pool.submit(self._stream, "/completions", body, request, sink, cancel)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()

    def _stream(
        self,
        path: str,
        body: dict[str, Any],
        request: ChatRequest | CompletionRequest,
        sink: EventSink,
        cancel: threading.Event,
    ) -> None:
        body |= _sampling_fields(request.params)
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        started = time.perf_counter()
        first: float | None = None
        finish_reason = "length"
        usage: dict[str, int] = {}
        with self._http.stream("POST", path, json=body) as response:
            if response.status_code >= 400:
                raise RemoteError(
                    f"remote LLM answered {response.status_code}: {response.read()!r}"
                )
            for chunk in _sse_json(response):
                if cancel.is_set():
                    finish_reason = "cancelled"
                    break
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices", []):
                    text = (choice.get("delta") or {}).get("content") or choice.get("text") or ""
                    if text:
                        first = first or time.perf_counter()
                        sink(Token(text))
                    finish_reason = choice.get("finish_reason") or finish_reason
        ended = time.perf_counter()
        timings = Timings(
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            prompt_ms=((first or ended) - started) * 1000,
            generation_ms=(ended - (first or ended)) * 1000,
        )
        sink(Finished(finish_reason, timings, request.model))


def _sse_json(response: httpx.Response) -> Any:
    for chunk in sse.decode(response.iter_lines()):
        if "error" in chunk:
            raise RemoteError(f"remote LLM failed: {chunk['error'].get('message')}")
        yield chunk
