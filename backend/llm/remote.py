"""Chat through any OpenAI-compatible server (llama-server, vLLM, Ollama, another Hearth)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from backend import sse
from backend.errors import HearthError, InvalidRequestError
from backend.llm.context_window import (
    OVERFLOW_HEADER,
    ContextBudget,
    PromptTooLongError,
    overflow_error,
)
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


class RemoteRefusedError(InvalidRequestError):
    """The remote server refused the request as invalid (a 4xx): its reason, passed on."""

    code = "remote_llm_refused"


class RemoteUnsupportedError(InvalidRequestError):
    """The request asks for something Hearth cannot pass on to a remote server."""

    code = "unsupported_with_remote_llm"


# Hearth's defaults, which are not sent: a remote server applies its own.
_PASSED_IF_SET = {
    "top_k": 40,
    "min_p": 0.05,
    "repeat_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
}


def _sampling_fields(params: SamplingParams) -> dict[str, Any]:
    if params.grammar or params.logprobs:
        field = "response_format" if params.grammar else "logprobs"
        raise RemoteUnsupportedError(
            f"'{field}' is not supported while chat goes to a remote server "
            "(setting remote_llm_url); it works with local models"
        )
    fields: dict[str, Any] = {"temperature": params.temperature, "top_p": params.top_p}
    fields |= {
        name: getattr(params, name)
        for name, default in _PASSED_IF_SET.items()
        if getattr(params, name) != default
    }
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

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        max_parallel: int = 4,
        transport: httpx.BaseTransport | None = None,  # another way to reach it than TCP
    ) -> None:
        root = base_url.rstrip("/").removesuffix("/v1")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=f"{root}/v1",
            headers=headers,
            timeout=httpx.Timeout(30.0, read=None),
            transport=transport,
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
        if request.tool_use is not None:  # earlier calls and results in messages do pass on
            raise RemoteUnsupportedError(
                "'tools' are not supported while chat goes to a remote server (setting "
                "remote_llm_url); they work with local models",
                param="tools",
            )
        return self._pool.submit(self._chat, request, sink, cancel)

    def start_completion(
        self, request: CompletionRequest, sink: EventSink, cancel: threading.Event
    ) -> Future[None]:
        # Token ids go as they are: OpenAI-compatible servers take them (llama-server, vLLM).
        prompt = request.prompt if isinstance(request.prompt, str) else list(request.prompt)
        body = {"model": request.model, "prompt": prompt}
        return self._pool.submit(self._stream, "/completions", body, request, sink, cancel)

    def _chat(self, request: ChatRequest, sink: EventSink, cancel: threading.Event) -> None:
        """The remote server decides what fits its context. When it answers that the prompt
        does not, the oldest turns are left out (the system prompt kept) and it is asked
        again, as the local runtime does, unless the request says to refuse instead; then a
        Hearth remote is told so too (the header), since it would drop them itself."""
        messages = list(request.messages)
        system = messages[:1] if messages and messages[0]["role"] == "system" else []
        rest, dropped = messages[len(system) :], 0
        while True:
            body = {"model": request.model, "messages": system + rest}
            try:
                self._stream("/chat/completions", body, request, sink, cancel, dropped)
                return
            except PromptTooLongError:
                if not request.drop_old_turns or len(rest) <= 1:
                    raise
                rest, dropped = rest[1:], dropped + 1

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
        dropped: int = 0,
    ) -> None:
        body |= _sampling_fields(request.params)
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        refuse_overflow = isinstance(request, ChatRequest) and not request.drop_old_turns
        headers = {OVERFLOW_HEADER: "error"} if refuse_overflow else {}
        started = time.perf_counter()
        first: float | None = None
        finish_reason = "length"
        usage: dict[str, int] = {}
        with self._http.stream("POST", path, json=body, headers=headers) as response:
            if response.status_code >= 400:
                raise _refusal(response, "prompt" if "prompt" in body else "messages")
            for chunk in _sse_json(response):
                if cancel.is_set():
                    finish_reason = "cancelled"
                    break
                usage = chunk.get("usage") or usage
                # A Hearth remote says how many turns it left out itself.
                dropped += int((chunk.get("hearth") or {}).get("dropped_messages") or 0)
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
        sink(Finished(finish_reason, timings, request.model, dropped))


def _error_fields(raw: bytes) -> dict[str, Any]:
    """The fields of an error answer: OpenAI's {"error": {...}}, or vLLM's at the top."""
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    error = data.get("error", data) if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {"message": str(error)} if error else {}


def _refusal(response: httpx.Response, param: str) -> HearthError:
    """The error for a remote's error status: a prompt too long for its context, or another
    refusal (a 4xx, passed on as a 400 with its reason), or a failure (a 502)."""
    raw = response.read()
    error = _error_fields(raw)
    message = str(error.get("message") or raw.decode("utf-8", "replace"))[:2000]
    if response.status_code >= 500:
        return RemoteError(f"remote LLM answered {response.status_code}: {message}")
    overflow = (
        error.get("code") == "context_length_exceeded"
        or error.get("type") == "exceed_context_size_error"  # llama-server's
        or "maximum context length" in message
    )
    if not overflow:
        return RemoteRefusedError(f"the remote LLM server refused the request: {message}")
    if "maximum context length" not in message and {"n_ctx", "n_prompt_tokens"} <= error.keys():
        budget = ContextBudget(int(error["n_ctx"]), 0)  # llama-server's numbers, in OpenAI's words
        return overflow_error(int(error["n_prompt_tokens"]), budget, param)
    return PromptTooLongError(f"the remote LLM server: {message}", param=param)


def _sse_json(response: httpx.Response) -> Any:
    for chunk in sse.decode(response.iter_lines()):
        if "error" in chunk:
            raise RemoteError(f"remote LLM failed: {chunk['error'].get('message')}")
        yield chunk
