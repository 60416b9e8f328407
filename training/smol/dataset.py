"""hearth-smol's examples: grounded answers citing [n], refusals, image labels and chat.

Grounded prompts are built by the backend's own `grounded_question`, so the adapter learns the
exact prompt it is served. Documents are split into training and held-out sides first; the
evaluation questions come only from held-out documents.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.documents.grounding import grounded_question
from backend.paths import repo_models_dir
from backend.wire import Source
from training.finetune_data import Messages, write_conversations
from training.smol.facts import Fact, is_heldout, postgres_facts, wordnet_facts
from training.smol.voice import REFUSAL, chat_examples, image_examples

_TERM_QUESTIONS = (
    "What is {s} in {c}?",
    "In {c}, what does {s} mean?",
    "What is {s} ({c})?",
    "According to the documentation, what is {s} in {c}?",
    "Explain {s} in {c}.",
)
_WORD_QUESTIONS = (
    "What does the word “{s}” mean?",
    "What is the meaning of {s}?",
    "Define {s}.",
    "What does {s} mean?",
)


@dataclass(frozen=True)
class Mix:
    """How many examples of each kind one split gets."""

    grounded: int
    unanswerable: int
    images: int
    chat: int


TRAIN_MIX = Mix(grounded=430, unanswerable=140, images=70, chat=60)
HELDOUT_MIX = Mix(grounded=14, unanswerable=5, images=3, chat=2)
EVAL_MIX = Mix(grounded=150, unanswerable=50, images=0, chat=0)


def question_for(fact: Fact, rng: random.Random) -> str:
    templates = _WORD_QUESTIONS if fact.kind == "word" else _TERM_QUESTIONS
    return rng.choice(templates).format(s=fact.subject, c=fact.context)


def answer_for(fact: Fact, n: int) -> str:
    text = fact.description.rstrip(".").rstrip(" …")
    if fact.kind == "word":
        return f"“{fact.subject}” means {text[:1].lower()}{text[1:]} [{n}]."
    return f"In {fact.context}, {fact.subject} is described as: {text} [{n}]."


def refusal_for(fact: Fact) -> str:
    if fact.kind == "word":
        return f"{REFUSAL}: none of them defines “{fact.subject}”."
    return f"{REFUSAL}: none of them describes {fact.subject} in {fact.context}."


class FactPool:
    """Facts grouped into two-fact windows per document, which become the sources."""

    def __init__(self, facts: Sequence[Fact]) -> None:
        by_document: dict[str, list[Fact]] = defaultdict(list)
        for fact in facts:
            by_document[fact.document].append(fact)
        self.windows: dict[str, list[tuple[Fact, ...]]] = {
            doc: [tuple(group[i : i + 2]) for i in range(0, len(group), 2)]
            for doc, group in by_document.items()
        }
        self.facts = [f for doc in self.windows for f in by_document[doc]]
        self._documents = list(self.windows)

    def gold_window(self, fact: Fact) -> tuple[Fact, ...]:
        return next(w for w in self.windows[fact.document] if fact in w)

    def others(self, fact: Fact, rng: random.Random, count: int) -> list[tuple[Fact, ...]]:
        """Near misses from the same document first, then unrelated windows; none mentions it."""
        near = [
            w for w in self.windows[fact.document] if not _mentions(w, fact.subject)
        ]  # its own window always mentions it
        picked = rng.sample(near, min(len(near), rng.randint(0, 2), count))
        while len(picked) < count:
            window = rng.choice(self.windows[rng.choice(self._documents)])
            if window not in picked and not _mentions(window, fact.subject):
                picked.append(window)
        return picked


def _mentions(window: Sequence[Fact], subject: str) -> bool:
    return any(subject.lower() in f.source_text.lower() for f in window)


def source(window: Sequence[Fact], n: int) -> Source:
    """A source as the backend numbers it: a path with lines, and the passage. The prompt
    shows no collection or score, so they stay empty."""
    return Source(
        n=n,
        collection="",
        path=window[0].path,
        start_line=window[0].line,
        end_line=window[-1].line + (0 if window[-1].kind == "word" else 1),
        snippet="\n".join(f.source_text for f in window),
        score=0.0,
    )


def grounded_example(
    fact: Fact, pool: FactPool, rng: random.Random, answerable: bool
) -> tuple[Messages, dict[str, Any]]:
    """(messages, what a correct reply has): the gold window among 1-3 other sources, or not."""
    windows = pool.others(fact, rng, rng.randint(1, 2) if answerable else rng.randint(1, 3))
    gold = 0
    if answerable:
        gold = rng.randint(1, len(windows) + 1)
        windows.insert(gold - 1, pool.gold_window(fact))
    sources = [source(w, n) for n, w in enumerate(windows, start=1)]
    question = question_for(fact, rng)
    reply = answer_for(fact, gold) if answerable else refusal_for(fact)
    messages = [
        {"role": "user", "content": grounded_question(question, sources)},
        {"role": "assistant", "content": reply},
    ]
    expected = {"gold": gold, "keywords": fact.keywords, "subject": fact.subject}
    return messages, expected


def grounded_set(
    pool: FactPool, rng: random.Random, answerable: int, unanswerable: int
) -> list[tuple[Messages, dict[str, Any]]]:
    chosen = rng.sample(pool.facts, answerable + unanswerable)
    return [
        grounded_example(fact, pool, rng, answerable=index < answerable)
        for index, fact in enumerate(chosen)
    ]


def _pools(text_dir: Path, rng: random.Random) -> tuple[FactPool, FactPool]:
    """(train, held-out) pools with as many PostgreSQL facts as WordNet ones."""
    postgres = list(postgres_facts(text_dir / "postgresql-doc-15"))
    words = list(wordnet_facts(text_dir / "wordnet-base"))
    words = rng.sample(words, min(len(words), len(postgres)))
    facts = postgres + words
    return (
        FactPool([f for f in facts if not is_heldout(f.document)]),
        FactPool([f for f in facts if is_heldout(f.document)]),
    )


def _split(pool: FactPool, mix: Mix, rng: random.Random) -> list[Messages]:
    grounded = [m for m, _ in grounded_set(pool, rng, mix.grounded, mix.unanswerable)]
    labels = repo_models_dir() / "hearth-clip-tiny" / "labels.txt"
    examples = grounded + image_examples(rng, mix.images, labels) + chat_examples(rng, mix.chat)
    rng.shuffle(examples)
    return examples


def build_smol_dataset(
    text_dir: Path,
    out: Path,
    *,
    seed: int = 0,
    mixes: tuple[Mix, Mix, Mix] = (TRAIN_MIX, HELDOUT_MIX, EVAL_MIX),
) -> list[Path]:
    """train.jsonl, heldout.jsonl (loss during training) and eval.jsonl (bench/smol_eval.py)."""
    rng = random.Random(seed)
    train_mix, heldout_mix, eval_mix = mixes
    train_pool, heldout_pool = _pools(text_dir, rng)
    written = [
        write_conversations(out / "train.jsonl", _split(train_pool, train_mix, rng)),
        write_conversations(out / "heldout.jsonl", _split(heldout_pool, heldout_mix, rng)),
    ]
    evaluation = grounded_set(heldout_pool, rng, eval_mix.grounded, eval_mix.unanswerable)
    path = out / "eval.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for messages, expected in evaluation:
            record = {"messages": messages[:1], "reference": messages[1]["content"], **expected}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return [*written, path]
