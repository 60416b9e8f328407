"""hearth-smol v2's grounded examples: Hearth's own chunks and prompt, every kind of reply, the
typo maker, and the rule checks that reject a wrong citation or a copied answer."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from backend.documents.chunking import chunk_blocks
from backend.documents.grounding import SOURCES_PER_QUESTION, grounded_question
from backend.documents.parsers import parse_document
from training.smol.answer_checks import (
    Example,
    check_quote,
    citations,
    failed_rule,
    typo,
    words,
)
from training.smol.real_questions import (
    Corpus,
    build_real_questions,
    generate,
    load_passages,
    messages_of,
)
from training.smol.span_facts import passage_facts, template_words
from training.smol.voice import REFUSAL

_TOPICS = ("quartz", "marlin", "juniper", "falcon", "cobalt", "willow", "harbor", "saffron")
_VERBS = ("Sets", "Controls", "Specifies", "Limits")


def word_count(texts: Sequence[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def _document(topic: str, index: int) -> str:
    verb = _VERBS[index % len(_VERBS)]
    return (
        f"# The {topic} manual\n\n"
        f"{topic}ctl is a command-line tool for managing {topic} vaults. It reads its settings "
        f"from the {topic}.conf file.\n\n"
        f"To archive a {topic} vault, run the {topic}pack command with its folder.\n\n"
        f"A {topic} vault cannot be shared between two running servers.\n\n"
        f"Vaults change every hour. A {topic} snapshot is a frozen copy of a vault at one "
        f"moment. Snapshots are kept for a month.\n\n"
        f"## Settings\n\n{topic}_cache_size (integer)\n\n"
        f"{verb} the amount of memory held for {topic} indexes in kilobytes. The default is "
        f"{64 * (index + 1)} kilobytes.\n\n"
        f"The {topic} daemon writes its journal every minute and keeps old journals for a week. "
        f"Older {topic} journals are removed by the nightly cleaner.\n"
    )


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for index, topic in enumerate(_TOPICS):
        (folder / f"{topic}.md").write_text(_document(topic, index), encoding="utf-8")
    (folder / "faq.md").write_text("# FAQ\n\nfaqtool is a tool never to be read.\n")
    return folder


@pytest.fixture
def corpus(docs: Path) -> Corpus:
    return Corpus(load_passages(docs, word_count))


def _examples(corpus: Corpus, count: int = 60, seed: int = 0) -> list[Example]:
    return generate(corpus, count, False, random.Random(seed), Counter())


def test_facts_of_every_shape_are_found(corpus: Corpus) -> None:
    kinds = Counter(f.kind for f in corpus.facts)
    assert set(kinds) == {"definition", "option", "step", "limit"}
    step = next(f for f in corpus.facts if f.kind == "step" and "quartz" in f.subject)
    assert (step.subject, step.verb, step.detail) == (
        "archive a quartz vault",
        "run",
        "the quartzpack command with its folder",
    )
    assert not any("faqtool" in f.subject for f in corpus.facts)  # FAQ pages are never read


def test_the_prompt_is_the_backends_over_hearths_own_chunks(corpus: Corpus, docs: Path) -> None:
    chunks = {
        path.name: {c.text for c in chunk_blocks(parse_document(path), word_count)}
        for path in docs.glob("*.md")
    }
    for example in _examples(corpus):
        prompt = messages_of(example)[0]["content"]
        assert prompt == grounded_question(example.question, example.sources)
        assert [s.n for s in example.sources] == list(range(1, len(example.sources) + 1))
        assert 1 <= len(example.sources) <= SOURCES_PER_QUESTION
        for source in example.sources:
            assert source.snippet in chunks[source.path]
            assert f"[{source.n}] {source.path}, lines " in prompt


def _cited_text(example: Example, n: int) -> str:
    return next(s.snippet for s in example.sources if s.n == n).lower()


def test_every_kind_has_its_properties(corpus: Corpus) -> None:
    examples = _examples(corpus, count=80)
    by_kind = Counter(e.kind for e in examples)
    assert by_kind == {"single": 10, "quoting": 45, "two-source": 10, "partial": 6, "refusal": 9}
    for example in examples:
        cited = citations(example.answer)
        if example.kind == "refusal":
            assert cited == [] and example.answer.startswith(REFUSAL)
        elif example.kind == "two-source":
            assert len(set(cited)) == 2
        else:
            assert len(set(cited)) == 1  # a quote after the claim cites the same source again
        if example.kind == "partial":
            assert ", but not " in example.answer
        for n in cited:
            assert 1 <= n <= len(example.sources)
        assert "is described as" not in example.answer  # never v1's template
    # The answer is mostly source [1], as Hearth's search ranks it, but not always.
    one_source = [citations(e.answer)[0] for e in examples if e.kind in ("single", "quoting")]
    assert 0.4 < one_source.count(1) / len(one_source) < 0.8


def test_quoting_answers_quote_the_sentences_that_follow(corpus: Corpus) -> None:
    quoting = [e for e in _examples(corpus, count=200) if e.kind == "quoting"]
    assert len(quoting) == 112
    for example in quoting:
        n = citations(example.answer)[0]
        cited = " ".join(_cited_text(example, n).split())
        assert example.quoted.lower() in cited
        assert example.answer.endswith(f"[{n}].")
    conf = next(e for e in quoting if "settings" in e.quoted)
    assert conf.quoted.endswith(".conf file.")
    # The fact's own sentence is quoted whole in some answers, restated in others, and quoted
    # after the sentences that open its paragraph in others again.
    firsts = [(e, " ".join(e.sentence.split(". ")[0].split())) for e in quoting]
    assert any(e.quoted.startswith(first) for e, first in firsts)
    assert any(first not in e.quoted for e, first in firsts)
    assert any(first in e.quoted[1:] and not e.quoted.startswith(first) for e, first in firsts)


def test_asked_whether_a_step_can_be_done_the_answer_says_yes(corpus: Corpus) -> None:
    examples = _examples(corpus, count=300)
    steps = [e for e in examples if e.kind in ("single", "quoting") and "archive" in e.question]
    whether = ("is there", "can i", "is it possible")
    asked = [e for e in steps if e.question.lower().startswith(whether)]
    assert asked and all(e.answer.startswith(("Yes. ", "Yes: ")) for e in asked)
    how = [e for e in steps if e.question.lower().startswith("how")]
    assert how and not any(e.answer.startswith("Yes") for e in how)


def test_distractors_never_hold_the_answer(corpus: Corpus) -> None:
    rng = random.Random(0)
    for fact in corpus.facts:
        found = corpus.distractors(fact.subject, [fact], SOURCES_PER_QUESTION, rng)
        assert 1 <= len(found) <= SOURCES_PER_QUESTION and fact.passage not in found
        for i in found:
            text = corpus.passages[i].text.lower()
            assert fact.subject.lower() not in text and fact.detail.lower() not in text


def _levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def test_a_typo_is_one_edit_and_repeatable() -> None:
    question = "How do I archive a quartz vault?"
    typos = {typo(question, random.Random(seed)) for seed in range(40)}
    assert len(typos) > 10
    assert all(_levenshtein(t, question) == 1 for t in typos)
    assert typo(question, random.Random(3)) == typo(question, random.Random(3))


def _single(corpus: Corpus) -> Example:
    return next(e for e in _examples(corpus) if e.kind == "single" and len(e.sources) > 1)


def test_the_rules_reject_a_wrong_citation(corpus: Corpus) -> None:
    example = _single(corpus)
    assert failed_rule(example, template_words()) is None
    right = citations(example.answer)[0]
    wrong = next(s.n for s in example.sources if s.n != right)
    moved = example.answer.replace(f"[{right}]", f"[{wrong}]")
    assert failed_rule(dataclasses.replace(example, answer=moved), template_words()) == (
        "citation_unsupported"
    )
    missing = example.answer.replace(f"[{right}]", "[9]")
    assert failed_rule(dataclasses.replace(example, answer=missing), template_words()) == (
        "citation_missing_source"
    )


def test_the_rules_reject_a_verbatim_copy(corpus: Corpus) -> None:
    example = _single(corpus)
    n = citations(example.answer)[0]
    copied = " ".join(_cited_text(example, n).split()[:14]) + f" [{n}]."
    assert failed_rule(dataclasses.replace(example, answer=copied), template_words()) == (
        "copies_source"
    )
    parroted = dataclasses.replace(example, question=example.sentence)
    if len(words(example.sentence)) > 6:
        assert failed_rule(parroted, template_words()) == "question_copies_source"


def test_the_rules_reject_a_quote_the_cited_source_does_not_hold(corpus: Corpus) -> None:
    example = next(e for e in _examples(corpus, count=200) if e.quoted and len(e.sources) > 1)
    assert failed_rule(example, template_words()) is None
    n = citations(example.answer)[0]
    other = next(s for s in example.sources if s.n != n)
    elsewhere = " ".join(other.snippet.split()[-12:])
    moved = dataclasses.replace(
        example, answer=example.answer.replace(example.quoted, elsewhere), quoted=elsewhere
    )
    assert check_quote(moved) == "quote_not_in_source"
    assert failed_rule(moved, template_words()) is not None


def test_the_rules_reject_a_refusal_that_cites(corpus: Corpus) -> None:
    refusal = next(e for e in _examples(corpus) if e.kind == "refusal")
    cited = dataclasses.replace(refusal, answer=refusal.answer.rstrip(".") + " [1].")
    assert failed_rule(cited, template_words()) == "refusal_cites"


def test_options_are_found_as_term_lines_and_in_sentences(corpus: Corpus) -> None:
    facts = passage_facts(
        "quartz_cache_size (integer)\n\nSets the amount of memory held for quartz indexes.", 0
    )
    assert [(f.subject, f.verb, f.detail) for f in facts] == [
        ("quartz_cache_size", "sets", "the amount of memory held for quartz indexes")
    ]
    wrapped = "The maxlen parameter specifies the maximum number of\n  digits in a word. Next."
    assert [(f.subject, f.verb, f.detail) for f in passage_facts(wrapped, 0)] == [
        ("maxlen", "specifies", "the maximum number of digits in a word")
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Assuming that 23456 is the OID of the new function.",
        "The result is the same as for the previous call.",
        "So is the concept of a temporary view.",
        "To fix this, run the repair command.",
    ],
)
def test_clauses_and_pointers_are_not_facts(sentence: str) -> None:
    assert passage_facts(sentence, 0) == []


def test_a_plain_word_common_across_chunks_is_too_generic(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for index in range(8):
        (docs / f"page{index}.md").write_text(
            f"# Page {index}\n\nThe value is a number between one and ten.\n\n"
            f"zorbix{index} is a widget for page {index}.\n"
        )
    subjects = {f.subject for f in Corpus(load_passages(docs, word_count)).facts}
    assert "value" not in subjects and "zorbix3" in subjects


def test_build_writes_splits_and_stats(docs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = build_real_questions(docs, out, limit=40, heldout_share=0.0, count=word_count)
    assert [p.name for p in paths] == ["train.jsonl", "heldout.jsonl", "stats.json"]
    lines = (out / "train.jsonl").read_text(encoding="utf-8").splitlines()
    stats = json.loads((out / "stats.json").read_text())
    kept = sum(v for k, v in stats.items() if k.startswith("kept."))
    rejected = sum(v for k, v in stats.items() if k.startswith("rejected."))
    grounded = kept - stats["kept.images"] - stats["kept.chat"]
    assert grounded == 40 and len(lines) == kept == 40 + 2 + 2  # 5% images, 4% chat
    assert stats["generated"] == grounded + rejected
    assert stats["kept.quoting"] > stats["kept.single"] > 0
    assert all(json.loads(line)["messages"][1]["role"] == "assistant" for line in lines)
