"""bench/smol_rag_eval.py: the sources each prompt gets (the gold passage left out for the
refusal prompt, the backend's relevance cut and numbering) and how replies become figures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from rag_eval import Candidates, Question, Run
from rag_index import SearchIndex
from smol_rag_eval import QuestionSearch, cases, lead_reply, prompt_for, replies, summary

from backend.documents.retrieval import Bm25Index, Hit

TEXTS = {  # file: passage; the question's vector is [1, 0, 0]
    "/c/answers/0007.txt": "Set TMOUT to make read time out.",
    "/c/distractors/a.html": "The read builtin reads a line.",
    "/c/distractors/b.html": "Bash has many builtins.",
    "/c/distractors/c.html": "Unrelated text about gardens.",
}
VECTORS = [[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.5, 0.0, 0.866], [0.0, 1.0, 0.0]]
LOGITS = [2.0, 0.0, 0.0, -3.0]  # relevance 0.88, 0.5, 0.5, 0.05


class FixedReranker:
    """Stands in for hearth-rerank (tested with the library): a fixed logit per passage."""

    def scores(self, _query: str, texts: list[str]) -> np.ndarray:
        logits = dict(zip(TEXTS.values(), LOGITS, strict=True))
        return np.array([logits[t] for t in texts], dtype=np.float32)


def small_run() -> Run:
    hits = [
        Hit(chunk_id=str(n), collection="eval", source=path, text=text, score=0.0)
        for n, (path, text) in enumerate(TEXTS.items())
    ]
    ids = [h.chunk_id for h in hits]
    index = SearchIndex(
        hits,
        np.array(VECTORS, dtype=np.float32),
        Bm25Index.build(0, ids, list(TEXTS.values())),
        {i: n for n, i in enumerate(ids)},
    )
    question = Question(
        "How do I make read time out?", lambda hit: hit.source.endswith("/0007.txt"), "faq"
    )
    ranking = [("0", 0.9), ("1", 0.7), ("2", 0.5), ("3", 0.1)]
    return Run("faq", [question], index, [Candidates(ranking, ranking)])


def test_the_gold_passage_left_out_lets_the_next_one_in() -> None:
    run = small_run()
    vector = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    reranker: Any = FixedReranker()
    asked = prompt_for(run.questions[0], QuestionSearch(run, 0, vector, reranker))
    # The fourth passage is unrelated to the question (cosine 0, relevance 0.05): cut.
    assert [s.path for s in asked.sources] == list(TEXTS)[:3]
    assert [s.n for s in asked.sources] == [1, 2, 3] and asked.gold == (1,)
    without = QuestionSearch(run, 0, vector, reranker, frozenset({"0"}))
    missing = prompt_for(run.questions[0], without)
    assert [s.path for s in missing.sources] == list(TEXTS)[1:3]
    assert missing.gold == ()


def test_cases_find_the_gold_chunks_themselves() -> None:
    class Cache:
        def embed(self, texts: list[str]) -> np.ndarray:
            return np.array([[1.0, 0.0, 0.0]] * len(texts), dtype=np.float32)

    run, references = small_run(), ["", "", "the reference"]
    [case] = cases(run, references, [2], Cache(), FixedReranker())  # type: ignore[arg-type]
    assert case.index == 2 and case.reference == "the reference"
    assert case.asked.gold == (1,) and case.without_gold.gold == ()
    assert "0007" not in " ".join(s.path for s in case.without_gold.sources)


def test_the_lead_baseline_copies_and_cites_the_first_source() -> None:
    class Cache:
        def embed(self, texts: list[str]) -> np.ndarray:
            return np.array([[1.0, 0.0, 0.0]] * len(texts), dtype=np.float32)

    found = cases(small_run(), ["Set TMOUT."], [0], Cache(), FixedReranker())  # type: ignore[arg-type]
    asked, missing = replies(found, lambda prompt: lead_reply(prompt, 4))
    assert asked["text"] == "Set TMOUT to make [1]." and asked["cites_gold"]
    assert asked["overlap"] == 1.0 and not asked["declines"]
    assert missing["text"] == "The read builtin reads [1]." and not missing["cites_gold"]


def record(condition: str, **fields: Any) -> dict[str, Any]:
    base = {"condition": condition, "gold": [], "finish_reason": "stop", "tokens": 20}
    base |= {"seconds": 1.0, "overlap": 0.0, "cites_gold": False, "declines": False}
    return base | fields


def test_figures_count_only_what_the_rules_allow() -> None:
    records = [
        # answers, cites the gold passage
        record("asked", gold=[1], overlap=0.6, cites_gold=True),
        record("without_gold", declines=True),
        # cites the gold passage while declining: no right citation, a false refusal
        record("asked", gold=[2], cites_gold=True, declines=True),
        record("without_gold", finish_reason="repetition", tokens=200),
        # holds the words only in a reply cut at the limit: no answer
        record("asked", overlap=0.9, finish_reason="length", tokens=1024, seconds=9.0),
        record("without_gold", finish_reason="fixed", tokens=0, seconds=0.0, declines=True),
    ]
    figures = summary(records)
    assert figures["questions"] == 3 and figures["no_sources"] == 0.0
    assert figures["answer"] == 1 / 3
    assert figures["right_citation"] == 1 / 2
    assert figures["false_refusal"] == 1 / 2
    assert figures["right_refusal"] == 2 / 3
    assert (figures["cut_by_limit"], figures["cut_by_loop"]) == (1, 1)
    assert figures["fixed_replies"] == 1 and figures["model_replies"] == 5
    assert figures["mean_reply_tokens"] == (20 + 20 + 20 + 200 + 1024) / 5
