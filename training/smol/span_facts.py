"""Answerable facts found by rules in Hearth's chunks, and how people ask and answer about them.

Four shapes of sentence make a fact: a definition ("X is a …"), an option and what it does
(a term line followed by "Sets …"), a step ("To X, run Y.") and a limit ("X cannot be Y.").
Each fact can be asked about many ways and restated in a sentence of its own, with its citation;
the sentences that follow it in its block can be quoted after it, as a fuller answer.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

MAX_SPAN_WORDS = 10  # a restated span this long stays within answer_checks.MAX_COPIED_WORDS
MAX_QUOTE_WORDS = 60  # of the sentences an answer quotes
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_BLOCK_BREAK = re.compile(r"\n\s*\n")  # the chunker joins blocks with a blank line
_NAMED_OPTION = re.compile(r"^The ([\w.-]+) (?:parameter|option|setting|flag|switch) (\w+) (.+)$")
# First words that make a sentence's subject a reference to something else, not a name.
_NOT_NAME_TEXT = (
    "this that it there these those they he she we you which each here for in as if when "
    "then now note also all some one both such its their what how why where so since but "
    "although because while however thus whereas after before unless until once instead"
)
_NOT_NAMES = frozenset(_NOT_NAME_TEXT.split())
# Words a clause cannot end on without its rest (cut at a bracket: "the name of a function in").
_DANGLING_TEXT = "a an the of in on to for with by from and or as at is are be that all its"
_CLAUSE_WORDS = frozenset(
    {"that", "if", "whether", "this", "these", "which", "when", "assuming", "true", "false"}
    | {"but", "it", "there", "whereas", "since", "because", "used", "following", "also"}
)
_POINTER_WORDS = frozenset(
    {"following", "above", "below", "same", "this", "these", "those", "former", "latter"}
)
_DANGLING = frozenset(_DANGLING_TEXT.split())
_DEFINITION = re.compile(
    r"^(?:An? |The )?([A-Za-z][\w.+-]*(?: [\w.+-]+){0,3}) (?:is|are) ((?:an?|the) .+?)\.?$"
)
_TERM = re.compile(r"^([a-z][a-z0-9_]{2,40}|--?[a-z][\w-]*)(?: \(\w+\))?(?: [\w<>\[\]|=-]+)?$")
_OPTION_VERB_TEXT = (
    "sets specifies controls enables determines causes selects allows forces shows prints "
    "reports limits defines writes makes turns disables lists returns"
)
_OPTION_VERBS = _OPTION_VERB_TEXT.split()
_STEP = re.compile(
    r"^To ([a-z][^,]{4,70}), (use|run|issue|call|execute|set|specify|add|type|invoke|write|edit)"
    r" (.{3,90}?)\.?$"
)
_LIMIT = re.compile(r"^([A-Z][\w .-]{2,50}?) (?:cannot|can not|must not) be (.{5,90}?)\.?$")
GERUNDS = {
    **{"use": "using", "run": "running", "issue": "issuing", "call": "calling"},
    **{"execute": "executing", "set": "setting", "specify": "specifying", "add": "adding"},
    **{"type": "typing", "invoke": "invoking", "write": "writing", "edit": "editing"},
}


@dataclass(frozen=True)
class Fact:
    """One answerable fact: `subject` is what is asked about, `detail` what the answer says."""

    kind: str  # definition | option | step | limit
    subject: str
    detail: str
    verb: str  # the option's or step's verb ("sets", "run"); "" otherwise
    sentence: str  # the source sentence it came from
    passage: int  # index of the chunk that holds it


def _clause(text: str) -> str | None:
    """The text up to its first comma, semicolon or bracket, if short enough to restate."""
    head = re.split(r"[,;:(]| — | - ", text, maxsplit=1)[0].strip().rstrip(".")
    size = len(head.split())
    if not 2 <= size <= MAX_SPAN_WORDS or head.split()[-1].lower() in _DANGLING:
        return None
    return head


def _subject(text: str) -> str:
    """A subject as it reads mid-sentence: a leading article in lower case."""
    first, _, rest = text.partition(" ")
    return f"{first.lower()} {rest}" if rest and first in ("The", "A", "An") else text


def _is_name(subject: str) -> bool:
    """A subject that names a thing, not a clause ("assuming that 23456", "True if this")."""
    found = subject.lower().split()
    return found[0] not in _NOT_NAMES and not _CLAUSE_WORDS.intersection(found)


def _says_something(detail: str) -> bool:
    """A detail that holds its meaning alone, not a pointer ("the following", "the same")."""
    return not _POINTER_WORDS.intersection(detail.lower().split())


def _sentence_facts(sentence: str, passage: int) -> list[Fact]:
    sentence = " ".join(sentence.split())
    if match := _DEFINITION.match(sentence):
        subject, detail = match.group(1), _clause(match.group(2))
        if detail and _is_name(subject) and _says_something(detail):
            return [Fact("definition", subject, detail, "", sentence, passage)]
    if match := _STEP.match(sentence):
        goal, action = _clause(match.group(1)), _clause(match.group(3))
        if goal and action and _says_something(goal):
            return [Fact("step", goal, action, match.group(2), sentence, passage)]
    if match := _LIMIT.match(sentence):
        subject, detail = match.group(1), _clause(match.group(2))
        if detail and _is_name(subject) and _says_something(detail):
            return [Fact("limit", _subject(subject), detail, "", sentence, passage)]
    return []


def _option_facts(lines: list[str], passage: int) -> list[Fact]:
    facts = []
    for term, description in zip(lines, lines[1:], strict=False):
        match = _TERM.match(term.strip())
        first = description.split(maxsplit=1)
        if not match or len(first) < 2 or first[0].lower() not in _OPTION_VERBS:
            continue
        detail = _clause(first[1].split(". ")[0])
        if detail and first[0][:1].isupper():
            facts.append(
                Fact("option", match.group(1), detail, first[0].lower(), description, passage)
            )
    return facts


def _named_option(sentence: str, passage: int) -> list[Fact]:
    """ "The maxlen parameter specifies the maximum number of digits …" """
    match = _NAMED_OPTION.match(sentence)
    if not match or match.group(2) not in _OPTION_VERBS:
        return []
    detail = _clause(match.group(3).rstrip("."))
    if not detail or not _says_something(detail):
        return []
    return [Fact("option", match.group(1), detail, match.group(2), sentence, passage)]


def _block_sentences(text: str, sentence: str) -> tuple[list[str], int] | None:
    """The sentences of the block of `text` that holds `sentence` (its first sentence, if it
    has several), unwrapped, and where that one stands among them."""
    first = _SENTENCE.split(sentence)[0]
    for block in _BLOCK_BREAK.split(text):
        found = _SENTENCE.split(" ".join(block.split()))
        if first in found:
            return found, found.index(first)
    return None


def _whole_sentences(sentences: list[str], at_least: int) -> str:
    """The first of `sentences` within MAX_QUOTE_WORDS that end a sentence, joined; "" if
    fewer than `at_least` do (a list item or heading without a full stop ends no sentence)."""
    quoted: list[str] = []
    for following in sentences:
        if len(" ".join([*quoted, following]).split()) > MAX_QUOTE_WORDS:
            break
        quoted.append(following)
    while len(quoted) >= at_least and quoted[-1][-1:] not in ".!?":
        quoted.pop()
    return " ".join(quoted) if len(quoted) >= at_least else ""


def sentences_after(text: str, sentence: str, count: int, *, itself: bool = False) -> str:
    """Up to `count` whole sentences that follow `sentence` in its block of `text`, after the
    sentence `itself` if asked, verbatim but for the source's line wrapping and at most
    MAX_QUOTE_WORDS words; "" if no sentence follows."""
    found = _block_sentences(text, sentence)
    if found is None:
        return ""
    sentences, at = found
    return _whole_sentences(sentences[at + 1 - itself : at + 1 + count], 1 + itself)


def block_opening(text: str, sentence: str) -> str:
    """`sentence`'s block quoted from its first sentence through `sentence`, and the next one
    if it fits: a passage answers, as FAQ answers do, from where its paragraph starts; "" if
    `sentence` opens the block (sentences_after quotes that) or is not within the words."""
    found = _block_sentences(text, sentence)
    if found is None or found[1] == 0:
        return ""
    sentences, at = found
    return _whole_sentences(sentences[: at + 2], at + 1)


def passage_facts(text: str, passage: int) -> list[Fact]:
    """Every fact the rules find in one chunk's text; line breaks inside a block are the
    source file's wrapping, not sentence ends."""
    blocks = [" ".join(b.split()) for b in _BLOCK_BREAK.split(text) if b.strip()]
    facts = _option_facts(blocks, passage)
    for block in blocks:
        for sentence in _SENTENCE.split(block):
            if 4 <= len(sentence.split()) <= 40:
                facts += _named_option(sentence, passage) or _sentence_facts(sentence, passage)
    return facts


# Questions: {s} subject, {g} a step's goal, {d} detail, {k} a few keywords.
QUESTIONS = {
    "definition": (
        *("What is {s}?", "what's {s}", "What does {s} mean?", "Can you explain what {s} is?"),
        *("I keep seeing {s} in the docs. What is it?", "{s}?", "{s} meaning", "define {s}"),
        *("What exactly is meant by {s}?", "Could you tell me what {s} refers to?"),
        *("explain {s} briefly", "Why is it called {s}, what is it?", "what is {s} exactly"),
    ),
    "option": (
        *("What does {s} do?", "what is {s} for", "What happens if I change {s}?"),
        *("How does the {s} option work?", "{s} option", "{s} parameter what does it do"),
        *("Why would I set {s}?", "Can you tell me about the {s} setting?", "explain {s}"),
        *("Which option {v} {k}?", "which setting {v} {k}", "what happens when i use {s}"),
    ),
    "step": (
        *("How do I {g}?", "how can i {g}", "What's the way to {g}?", "I need to {g}. How?"),
        *("Is there a command to {g}?", "{g} how", "Can I {g}, and how?", "best way to {g}?"),
        *("What do I use to {g}?", "What should I run to {g}?", "steps to {g}"),
        *("Is it possible to {g}?", "Can I {g}?", "could i {g} somehow"),
    ),
    "limit": (
        *("Can {s} be {d}?", "Is it possible for {s} to be {d}?", "can {s} be {d}"),
        *("What happens if {s} is {d}?", "Is {s} allowed to be {d}?", "{s} {k} allowed?"),
        *("Why can't I make {s} {d}?", "Will it work if {s} is {d}?"),
    ),
}
KEYWORD_SHARE = 0.15  # of questions asked as a bare keyword query
TYPO_SHARE = 0.1  # of questions with one typo

# Answers: {n} the citation, then the same fields.
CLAIMS = {
    "definition": (
        "{s} means {d} [{n}].",
        "{s} refers to {d} [{n}].",
        "In these docs, {s} stands for {d} [{n}].",
        "It's {d} [{n}].",
        "Put simply, {s} names {d} [{n}].",
    ),
    "option": (
        "{s} {v} {d} [{n}].",
        "The {s} setting {v} {d} [{n}].",
        "It {v} {d} [{n}].",
    ),
    "step": (
        "{V} {d} [{n}].",
        "You can {g} by {ing} {d} [{n}].",
        "{ing_cap} {d} does it [{n}].",
        "For that, {v} {d} [{n}].",
    ),
    "limit": (
        "No. {s} can't be {d} [{n}].",
        "No: the docs say {s} can't be {d} [{n}].",
        "That isn't possible, since {s} can't be {d} [{n}].",
    ),
}
STATEMENTS = {
    "definition": "{s} means {d}",
    "option": "{s} {v} {d}",
    "step": "you {g} by {ing} {d}",
    "limit": "{s} can't be {d}",
}
PARTIAL = "The sources say {statement} [{n}], but not {missing}."
SECOND_PART = "{claim} Also, {statement} [{n}]."
MISSING = {
    "definition": "what {s} is",
    "option": "what {s} does",
    "step": "how to {g}",
    "limit": "whether {s} can be {d}",
}


def _fields(fact: Fact) -> dict[str, str]:
    ing = GERUNDS.get(fact.verb, fact.verb)
    keywords = [w for w in re.findall(r"[A-Za-z_]{4,}", fact.detail)][:3]
    return {
        "s": fact.subject,
        "g": fact.subject,
        "d": fact.detail,
        "v": fact.verb,
        "V": fact.verb.capitalize(),
        "ing": ing,
        "ing_cap": ing.capitalize(),
        "k": " ".join(keywords),
    }


def question_for(fact: Fact, rng: random.Random) -> str:
    fields = _fields(fact)
    if rng.random() < KEYWORD_SHARE:
        return f"{fact.subject} {fields['k']}".strip()
    return rng.choice(QUESTIONS[fact.kind]).format(**fields)


# A question asking whether a step can be done is answered "Yes" before the how.
YES_NO = re.compile(r"^(?:is there|can i|could i|is it possible|are there)\b", re.IGNORECASE)
YES = ("Yes. ", "Yes: ")


def claim(fact: Fact, n: int, rng: random.Random, question: str = "") -> str:
    """A sentence restating the fact, after "Yes" when `question` asks whether a step can be
    done; a name that starts it keeps its case ("arg0", "ecpg")."""
    template = rng.choice(CLAIMS[fact.kind])
    text = template.format(n=n, **_fields(fact))
    if not template.startswith("{s}"):
        text = text[:1].upper() + text[1:]
    return rng.choice(YES) + text if fact.kind == "step" and YES_NO.match(question) else text


def statement(fact: Fact) -> str:
    return STATEMENTS[fact.kind].format(**_fields(fact))


def missing(fact: Fact) -> str:
    return MISSING[fact.kind].format(**_fields(fact))


def template_words() -> frozenset[str]:
    """Words the answer templates add, which no source need contain."""
    text = " ".join(
        [t for group in CLAIMS.values() for t in group]
        + list(STATEMENTS.values())
        + [PARTIAL, SECOND_PART, *YES]
        + list(GERUNDS.values())
        + [g.capitalize() for g in GERUNDS.values()]
    )
    return frozenset(re.findall(r"[a-z][a-z']+", re.sub(r"\{\w+\}", " ", text).lower()))
