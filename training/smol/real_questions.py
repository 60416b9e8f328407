"""hearth-smol v2's grounded examples: real chunks, questions asked many ways, answers in own words.

Documents go through Hearth's own parser and chunker; a fact found by rules in one chunk
(span_facts) becomes a question; the sources are that chunk among distractors that Hearth's
BM25 index retrieves for the question from the same corpus, numbered by the backend's own
`grounded_question`. Replies are single-source, quoting (most of them: a single-source answer
that goes on in the source's words, as FAQ answers run on), two-source (a compound question),
partial ("the sources say X, but not Y") or refusals (gold chunk removed). Every example must
pass the rules in answer_checks; stats.json counts what each rule rejected. Image and chat
examples (v1's, from training/smol/voice) are mixed in so the adapter keeps the app's other
tasks.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from backend.documents.chunking import ChunkingConfig, TokenCounter, chunk_blocks
from backend.documents.grounding import SOURCES_PER_QUESTION, grounded_question
from backend.documents.parsers import parse_document
from backend.documents.retrieval import Bm25Index
from backend.paths import repo_models_dir
from backend.wire import Source
from training.corpus import is_faq_page
from training.finetune_data import Messages, write_conversations
from training.smol.answer_checks import Example, citations, failed_rule, typo
from training.smol.facts import is_heldout
from training.smol.span_facts import (
    PARTIAL,
    SECOND_PART,
    TYPO_SHARE,
    YES,
    Fact,
    block_opening,
    claim,
    missing,
    passage_facts,
    question_for,
    sentences_after,
    statement,
    template_words,
)
from training.smol.voice import REFUSAL, chat_examples, image_examples

MIX = {"single": 0.12, "quoting": 0.56, "two-source": 0.12, "partial": 0.08, "refusal": 0.12}
# A single answer is the fact in own words alone; a quoting one goes on to quote the sentences
# after it (after), or instead quotes the fact's sentence and those after it (whole) or its
# paragraph from the start through it (paragraph). FAQ-like answers run on past their first
# clause, in the source's words, from where the answering paragraph starts.
QUOTE_SHARES = {"after": 0.25, "whole": 0.25, "paragraph": 0.5}
# Which kind of fact a question is about: definitions are most of what the rules find, while
# people ask more how-to and option questions.
KIND_SHARES = {"definition": 0.55, "option": 0.1, "step": 0.25, "limit": 0.1}
# How often the answering chunk is source [1]: Hearth's search ranks it first for 0.535 of the
# dev questions and among the top five for 0.854 (bench/README.md, "Retrieval quality").
GOLD_FIRST = 0.6
# Added to a split's grounded examples, as shares of their number.
OTHER_TASKS = {"images": 0.05, "chat": 0.04}
GENERIC_SHARE = 0.002  # a one-word subject in more of the chunks than this is too generic
DOC_SUFFIXES = (".html", ".htm", ".txt", ".md", ".rst")


@dataclass(frozen=True)
class Passage:
    """One of Hearth's chunks, where it came from and which side of the split it is on."""

    text: str
    path: str
    lines: tuple[int, int] | None
    headings: tuple[str, ...]
    heldout: bool


def load_passages(docs: Path, count: TokenCounter) -> list[Passage]:
    """Every chunk of every document under `docs` (FAQ pages skipped), as Hearth chunks them."""
    passages = []
    for path in sorted(p for p in docs.rglob("*") if p.suffix.lower() in DOC_SUFFIXES):
        shown = path.relative_to(docs).as_posix()
        if is_faq_page(shown):
            continue
        for chunk in chunk_blocks(parse_document(path), count, ChunkingConfig()):
            passages.append(
                Passage(chunk.text, shown, chunk.lines, chunk.headings, is_heldout(shown))
            )
    return passages


def minilm_counter() -> TokenCounter:
    """The embedder's own word-piece count (the tokenizer only, no model session)."""
    from tokenizers import Tokenizer

    from backend.embeddings.minilm import locate_files

    tokenizer = Tokenizer.from_file(str(locate_files(verify=False)["tokenizer"]))
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count(texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    return count


class Corpus:
    """The chunks, their facts and a BM25 index over them (headings count, as in Hearth)."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = list(passages)
        texts = [" ".join(p.headings) + "\n" + p.text if p.headings else p.text for p in passages]
        self.index = Bm25Index.build(0, [str(i) for i in range(len(passages))], texts)
        found = [f for i, p in enumerate(passages) for f in passage_facts(p.text, i)]
        self.facts = self._specific(found)

    def _specific(self, facts: list[Fact]) -> list[Fact]:
        """Facts whose subject, if one plain word, is rare in the corpus: "value" or "format"
        means something different on every page, so a question about it has no one answer."""
        plain = {f.subject for f in facts if f.subject.isalpha() and f.subject.islower()}
        counts = Counter(w for p in self.passages for w in plain.intersection(p.text.split()))
        most = max(3, GENERIC_SHARE * len(self.passages))
        return [f for f in facts if counts[f.subject] <= most]

    def distractors(
        self, query: str, avoid: Sequence[Fact], count: int, rng: random.Random
    ) -> list[int]:
        """BM25's best chunks for the query on the same side that hold none of `avoid`'s
        subjects or details (an overlapping neighbour chunk would answer too)."""
        side = self.passages[avoid[0].passage].heldout
        gold = {f.passage for f in avoid}
        banned = [t.lower() for f in avoid for t in (f.subject, f.detail)]

        def usable(i: int) -> bool:
            passage = self.passages[i]
            text = passage.text.lower()
            return i not in gold and passage.heldout == side and not any(b in text for b in banned)

        found = [int(i) for i, _ in self.index.search(query, 30) if usable(int(i))][:count]
        # Too few lexical matches: unrelated chunks from a bounded random draw fill the rest.
        for i in rng.sample(range(len(self.passages)), min(len(self.passages), 200)):
            if len(found) == count:
                break
            if usable(i) and i not in found:
                found.append(i)
        return found

    def source(self, i: int, n: int) -> Source:
        passage = self.passages[i]
        start, end = passage.lines or (None, None)
        return Source(
            n=n,
            collection="",
            path=passage.path,
            start_line=start,
            end_line=end,
            headings=list(passage.headings),
            snippet=passage.text,
            score=0.0,
        )


def _ask(fact: Fact, rng: random.Random) -> str:
    question = question_for(fact, rng)
    return typo(question, rng) if rng.random() < TYPO_SHARE else question


def _placed(
    corpus: Corpus, gold: list[int], others: list[int], rng: random.Random
) -> tuple[tuple[Source, ...], dict[int, int]]:
    """Sources in a shuffled order, a gold chunk first GOLD_FIRST of the time, and the number
    each gold chunk got."""
    order = list(others)
    rng.shuffle(order)
    for i in gold:
        first = rng.random() < GOLD_FIRST
        order.insert(0 if first else rng.randint(min(1, len(order)), len(order)), i)
    numbers = {i: order.index(i) + 1 for i in gold}
    return tuple(corpus.source(i, n) for n, i in enumerate(order, start=1)), numbers


def _single(corpus: Corpus, facts: list[Fact], rng: random.Random) -> Example:
    """The fact in own words, citing its chunk among distractors."""
    fact = facts[0]
    question = _ask(fact, rng)
    others = corpus.distractors(question, [fact], rng.randint(1, SOURCES_PER_QUESTION - 1), rng)
    sources, numbers = _placed(corpus, [fact.passage], others, rng)
    reply = claim(fact, numbers[fact.passage], rng, question)
    return Example("single", question, sources, reply, fact.sentence)


def _quoting(corpus: Corpus, facts: list[Fact], rng: random.Random) -> Example:
    """A single answer that goes on to quote (QUOTE_SHARES) the two or three sentences after
    the fact in its chunk, or instead quotes the fact's sentence and those after it, or its
    paragraph from the start; the fact is one with a sentence after it (`quotable`)."""
    single = _single(corpus, facts, rng)
    n = citations(single.answer)[0]
    shape = rng.choices(list(QUOTE_SHARES), list(QUOTE_SHARES.values()))[0]
    text, sentence = corpus.passages[facts[0].passage].text, facts[0].sentence
    count = rng.randint(2, 3)
    quoted = block_opening(text, sentence) if shape == "paragraph" else ""
    if not quoted and shape != "after":  # the paragraph opens with the fact, or runs too long
        shape, quoted = "whole", sentences_after(text, sentence, count, itself=True)
    if not quoted:  # the fact's sentence and the next one run past MAX_QUOTE_WORDS
        shape, quoted = "after", sentences_after(text, sentence, count)
    lead = single.answer
    if shape != "after":  # the quote says it all, after a "Yes." if the claim opened with one
        lead = lead.split(" ")[0] if lead.startswith(YES) else ""
    reply = f"{lead} {quoted[:-1]} [{n}]{quoted[-1]}".lstrip()
    return dataclasses.replace(single, kind="quoting", answer=reply, quoted=quoted)


def quotable(corpus: Corpus, facts: Sequence[Fact]) -> list[Fact]:
    """The facts that have a whole sentence after them in their chunk, for a quoting answer."""
    return [f for f in facts if sentences_after(corpus.passages[f.passage].text, f.sentence, 1)]


def _compound(first: Fact, second: Fact, rng: random.Random) -> str:
    one, two = _ask(first, rng).rstrip("?"), question_for(second, rng)
    joiner = rng.choice((", and {q}", "? Also, {q}", ". And {q}", "; {q}"))
    return one + joiner.format(q=two[:1].lower() + two[1:] if "_" not in two[:4] else two)


def _two_source(corpus: Corpus, facts: list[Fact], rng: random.Random) -> Example:
    first, second = facts
    question = _compound(first, second, rng)
    others = corpus.distractors(question, facts, rng.randint(0, SOURCES_PER_QUESTION - 2), rng)
    sources, numbers = _placed(corpus, [first.passage, second.passage], others, rng)
    reply = SECOND_PART.format(
        claim=claim(first, numbers[first.passage], rng),
        statement=statement(second),
        n=numbers[second.passage],
    )
    return Example("two-source", question, sources, reply, f"{first.sentence} {second.sentence}")


def _partial(corpus: Corpus, facts: list[Fact], rng: random.Random) -> Example:
    known, absent = facts
    question = _compound(known, absent, rng)
    others = corpus.distractors(question, facts, rng.randint(1, SOURCES_PER_QUESTION - 1), rng)
    sources, numbers = _placed(corpus, [known.passage], others, rng)
    reply = PARTIAL.format(
        statement=statement(known), n=numbers[known.passage], missing=missing(absent)
    )
    return Example("partial", question, sources, reply, f"{known.sentence} {absent.sentence}")


def _refusal(corpus: Corpus, facts: list[Fact], rng: random.Random) -> Example:
    fact = facts[0]
    question = _ask(fact, rng)
    others = corpus.distractors(question, [fact], rng.randint(1, SOURCES_PER_QUESTION), rng)
    sources, _ = _placed(corpus, [], others, rng)
    reason = rng.choice(("none of them says", "none of them explains", "nothing there covers"))
    return Example("refusal", question, sources, f"{REFUSAL}: {reason} {missing(fact)}.", "")


BUILDERS: dict[str, Callable[[Corpus, list[Fact], random.Random], Example]] = {
    "single": _single,
    "quoting": _quoting,
    "two-source": _two_source,
    "partial": _partial,
    "refusal": _refusal,
}


def _pick_facts(kind: str, by_kind: dict[str, list[Fact]], rng: random.Random) -> list[Fact] | None:
    """One fact (of a kind drawn by KIND_SHARES), or two from different chunks for a compound
    question (None: no second)."""
    kinds = [k for k in KIND_SHARES if by_kind[k]]
    first = rng.choice(by_kind[rng.choices(kinds, [KIND_SHARES[k] for k in kinds])[0]])
    if kind not in ("two-source", "partial"):
        return [first]
    pool = [f for facts in by_kind.values() for f in facts]
    others = [f for f in pool if f.passage != first.passage and f.subject != first.subject]
    return [first, rng.choice(others)] if others else None


def messages_of(example: Example) -> Messages:
    return [
        {"role": "user", "content": grounded_question(example.question, example.sources)},
        {"role": "assistant", "content": example.answer},
    ]


def generate(
    corpus: Corpus, count: int, heldout: bool, rng: random.Random, stats: Counter[str]
) -> list[Example]:
    """`count` examples that pass every rule, in the MIX proportions, from one side's facts."""
    pool = [f for f in corpus.facts if corpus.passages[f.passage].heldout == heldout]
    kept: list[Example] = []
    words = template_words()
    if len(pool) < 2:
        return kept
    by_kind = {k: [f for f in pool if f.kind == k] for k in KIND_SHARES}
    with_quote = {k: quotable(corpus, facts) for k, facts in by_kind.items()}
    kinds = [k for k, share in MIX.items() for _ in range(round(share * count))][:count]
    for kind in kinds:
        for _ in range(20):  # retry a kind until one passes, so the mix holds
            stats["generated"] += 1
            facts = _pick_facts(kind, with_quote if kind == "quoting" else by_kind, rng)
            example = BUILDERS[kind](corpus, facts, rng) if facts else None
            rule = failed_rule(example, words) if example else "no_second_fact"
            if example and rule is None:
                stats[f"kept.{kind}"] += 1
                kept.append(example)
                break
            stats[f"rejected.{rule}"] += 1
    rng.shuffle(kept)
    return kept


def with_other_tasks(
    grounded: list[Example], rng: random.Random, stats: Counter[str]
) -> list[Messages]:
    """The grounded examples' conversations with image and chat ones, shuffled together."""
    labels = repo_models_dir() / "hearth-clip-tiny" / "labels.txt"
    images = image_examples(rng, round(OTHER_TASKS["images"] * len(grounded)), labels)
    chat = chat_examples(rng, round(OTHER_TASKS["chat"] * len(grounded)))
    stats.update({"kept.images": len(images), "kept.chat": len(chat)})
    examples = [messages_of(e) for e in grounded] + images + chat
    rng.shuffle(examples)
    return examples


def build_real_questions(
    docs: Path,
    out: Path,
    *,
    limit: int = 3000,
    heldout_share: float = 0.05,
    seed: int = 0,
    count: TokenCounter | None = None,
) -> list[Path]:
    """train.jsonl and heldout.jsonl (split by document) and stats.json, under `out`."""
    rng = random.Random(seed)
    corpus = Corpus(load_passages(docs, count or minilm_counter()))
    stats: Counter[str] = Counter(passages=len(corpus.passages), facts=len(corpus.facts))
    stats.update(f"facts.{f.kind}" for f in corpus.facts)
    heldout_count = round(limit * heldout_share)
    train = generate(corpus, limit - heldout_count, False, rng, stats)
    held = generate(corpus, heldout_count, True, rng, stats)
    tasks_rng = random.Random(seed + 1)  # the grounded examples stay those of the seed alone
    written = [
        write_conversations(out / "train.jsonl", with_other_tasks(train, tasks_rng, stats)),
        write_conversations(out / "heldout.jsonl", with_other_tasks(held, tasks_rng, stats)),
    ]
    stats_path = out / "stats.json"
    stats_path.write_text(json.dumps(dict(sorted(stats.items())), indent=2) + "\n")
    return [*written, stats_path]
