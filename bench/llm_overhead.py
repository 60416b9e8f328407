"""What the HTTP API costs: decode speed and time to first token, API against direct llama.cpp.

Both paths run the same model, prompts and token count in this one run, alternating, so the
machine's noise hits both. The end-of-generation token is banned so every reply has exactly
--tokens tokens. A second row constrains both paths with the same JSON-Schema grammar
(`response_format` through the API, a `LlamaGrammar` directly); a grammar decides when the reply
ends, so that row counts the tokens each reply really had.

    .venv/bin/python bench/llm_overhead.py [--model NAME] [--tokens 128] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from backend.client import start_backend, stop_backend
from backend.discovery import load_or_create_token
from backend.llm.grammar import json_schema_grammar
from backend.models.registry import ModelRegistry
from backend.paths import HomeLayout
from backend.settings import Settings

PROMPTS = [
    "Explain how a refrigerator keeps food cold.",
    "Write a short story about a lighthouse keeper.",
    "What are the main differences between a list and a tuple in Python?",
    "Describe a walk through a forest in autumn.",
]
CONTEXT = 2048
# Long enough that replies run to the token limit; the grammar still checks every token.
RECIPES = {
    "type": "object",
    "properties": {
        "recipes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "steps": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["name", "steps"],
            },
        }
    },
    "required": ["recipes"],
}


def direct_run(llama, prompt: str, tokens: int, eos: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(seconds to first token, decode tokens per second) straight from llama-cpp-python."""
    started = time.perf_counter()
    first = None
    stream = llama.create_chat_completion(
        messages=[{"role": "user", "content": prompt}],
        max_tokens=tokens,
        temperature=0,
        logit_bias={eos: -100.0},
        stream=True,
    )
    for chunk in stream:
        if first is None and chunk["choices"][0]["delta"].get("content"):
            first = time.perf_counter()
    ended = time.perf_counter()
    assert first is not None
    return first - started, (tokens - 1) / (ended - first)


def direct_grammar_run(llama, prompt: str, tokens: int, grammar: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(seconds to first token, decode tokens per second) with a grammar, straight."""
    from llama_cpp import LlamaGrammar

    started = time.perf_counter()
    first, count = None, 0
    stream = llama.create_chat_completion(
        messages=[{"role": "user", "content": prompt}],
        max_tokens=tokens,
        temperature=0,
        grammar=LlamaGrammar.from_string(grammar, verbose=False),
        stream=True,
    )
    for chunk in stream:
        if chunk["choices"][0]["delta"].get("content"):
            first = first or time.perf_counter()
            count += 1  # llama-cpp-python streams one chunk per token
    ended = time.perf_counter()
    assert first is not None and count > 1
    return first - started, (count - 1) / (ended - first)


def api_run(
    http: httpx.Client, model: str, prompt: str, tokens: int, eos: int | None
) -> tuple[float, float]:
    """The same through `hearth serve`'s streaming /v1/chat/completions; with `eos` None, the
    reply is held to the RECIPES schema instead of running to the token limit."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if eos is None:
        schema = {"name": "recipes", "schema": RECIPES}
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        body["logit_bias"] = {str(eos): -100}
    started = time.perf_counter()
    first = None
    completion_tokens = 0
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if first is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                first = time.perf_counter()
            if chunk.get("usage"):
                completion_tokens = chunk["usage"]["completion_tokens"]
    ended = time.perf_counter()
    assert first is not None and (completion_tokens == tokens or eos is None), completion_tokens
    return first - started, (completion_tokens - 1) / (ended - first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=Settings().default_model)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from llama_cpp import Llama

    with tempfile.TemporaryDirectory() as tmp:
        layout = HomeLayout(Path(tmp)).ensure()
        settings = Settings(default_model=args.model, context_size=CONTEXT)
        settings.save(layout)
        entry = ModelRegistry(layout).get(args.model)
        llama = Llama(
            model_path=str(entry.path), n_ctx=CONTEXT, n_threads=settings.threads, verbose=False
        )
        eos = llama.token_eos()
        grammar = json_schema_grammar(RECIPES)
        child, info = start_backend(layout)
        http = httpx.Client(
            base_url=info.url,
            headers={"Authorization": f"Bearer {load_or_create_token(layout)}"},
            timeout=120,
        )
        try:
            api_run(http, args.model, "warm up", 4, eos)  # loads the model in the backend
            direct_run(llama, "warm up", 4, eos)
            direct, api, direct_json, api_json = [], [], [], []
            for _ in range(args.rounds):
                for prompt in PROMPTS:
                    direct.append(direct_run(llama, prompt, args.tokens, eos))
                    api.append(api_run(http, args.model, prompt, args.tokens, eos))
                    ask = f"{prompt} Answer as JSON: recipes, each with a name and steps."
                    direct_json.append(direct_grammar_run(llama, ask, args.tokens, grammar))
                    api_json.append(api_run(http, args.model, ask, args.tokens, None))
        finally:
            http.close()
            stop_backend(child)
            llama.close()

    print(f"model {args.model}, {args.tokens} tokens per reply, {len(direct)} replies per path")
    print(f"{'':24}{'direct':>10}{'API':>10}")
    report("", direct, api)
    report("JSON schema ", direct_json, api_json)


def report(label: str, direct: list[tuple[float, float]], api: list[tuple[float, float]]) -> None:
    def median(runs: list[tuple[float, float]], i: int) -> float:
        return statistics.median(r[i] for r in runs)

    d_ttft, a_ttft = median(direct, 0) * 1000, median(api, 0) * 1000
    d_tps, a_tps = median(direct, 1), median(api, 1)
    decode, first = f"{label}decode tok/s", f"{label}first token ms"
    print(f"{decode:24}{d_tps:10.1f}{a_tps:10.1f}   ratio API/direct {a_tps / d_tps:.3f}")
    print(f"{first:24}{d_ttft:10.1f}{a_ttft:10.1f}   overhead {a_ttft - d_ttft:+.1f} ms")


if __name__ == "__main__":
    main()
