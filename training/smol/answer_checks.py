"""Rule checks every hearth-smol v2 example must pass before it is kept, and the typo maker.

A check reads only the finished example (question, sources, reply), so it also catches a
generator bug: a citation of a source that does not hold the cited words, a refusal that cites,
a reply that copies its source instead of saying it in its own words (beyond what it quotes:
whole sentences of the cited source, repeated as they stand).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from backend.wire import Source
from training.smol.facts import STOPWORDS
from training.smol.voice import REFUSAL

MAX_COPIED_WORDS = 10  # longest run of a source's words a reply may repeat
MAX_QUESTION_COPIED_WORDS = 6  # longest run of the answer sentence a question may repeat
ANSWER_WORDS = (4, 90)
QUESTION_WORDS = (1, 45)
_CITATION = re.compile(r"\[(\d+)\]")
_WORD = re.compile(r"[a-z0-9_][a-z0-9_.'-]*[a-z0-9_]|[a-z0-9_]")
_STOPWORDS = STOPWORDS | {"does", "should", "would", "could", "they", "them", "then"}


@dataclass(frozen=True)
class Example:
    """One candidate training example and what it was built to show."""

    kind: str  # single | two-source | partial | refusal
    question: str
    sources: tuple[Source, ...]
    answer: str
    sentence: str  # the source sentence (or sentences) the answer restates; "" for none
    quoted: str = ""  # whole sentences of the cited source the answer repeats verbatim


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str, ignore: frozenset[str] = frozenset()) -> set[str]:
    return {w for w in words(text) if len(w) >= 4 and w not in _STOPWORDS and w not in ignore}


def citations(answer: str) -> list[int]:
    return [int(n) for n in _CITATION.findall(answer)]


def longest_shared_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest run of consecutive words that `a` and `b` share."""
    best, previous = 0, [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def _cited_segments(answer: str) -> list[tuple[int, str]]:
    """(cited number, the words of the reply since the previous citation or sentence start)."""
    found, start = [], 0
    for match in _CITATION.finditer(answer):
        segment = answer[start : match.start()]
        segment = re.split(r"[.;:!?]\s", segment)[-1]  # only the claim this citation closes
        found.append((int(match.group(1)), segment))
        start = match.end()
    return found


def check_citations(example: Example, template_words: frozenset[str]) -> str | None:
    """Every cited number exists and its source holds the key content words cited to it."""
    numbers = {s.n: s for s in example.sources}
    cited = citations(example.answer)
    if example.kind == "refusal":
        return "refusal_cites" if cited or not example.answer.startswith(REFUSAL) else None
    wanted = 2 if example.kind == "two-source" else 1
    if len(set(cited)) != wanted:
        return "citation_count"
    for n, segment in _cited_segments(example.answer):
        if n not in numbers:
            return "citation_missing_source"
        source_words = set(words(numbers[n].snippet))
        if not content_words(segment, template_words) <= source_words:
            return "citation_unsupported"
    return None


def check_quote(example: Example) -> str | None:
    """A quote stands in the answer as it stands in a source the answer cites."""
    if not example.quoted:
        return None
    cited = [s for s in example.sources if s.n in citations(example.answer)]
    if not any(example.quoted in " ".join(s.snippet.split()) for s in cited):
        return "quote_not_in_source"
    return None if example.quoted in _uncited(example.answer) else "quote_not_in_answer"


def _uncited(answer: str) -> str:
    """The answer without its citation marks ("… in kilobytes [2]." → "… in kilobytes.")."""
    return re.sub(r"\s*\[\d+\]", "", answer)


def check_own_words(example: Example) -> str | None:
    said = _uncited(example.answer)
    answer = words(said.replace(example.quoted, " ") if example.quoted else said)
    for source in example.sources:
        if longest_shared_run(answer, words(source.snippet)) > MAX_COPIED_WORDS:
            return "copies_source"
    if longest_shared_run(words(example.question), words(example.sentence)) > (
        MAX_QUESTION_COPIED_WORDS
    ):
        return "question_copies_source"
    return None


def check_length(example: Example) -> str | None:
    if not example.sources:
        return "no_sources"
    answer, question = len(example.answer.split()), len(example.question.split())
    if not ANSWER_WORDS[0] <= answer <= ANSWER_WORDS[1]:
        return "answer_length"
    if not QUESTION_WORDS[0] <= question <= QUESTION_WORDS[1]:
        return "question_length"
    return None


def failed_rule(example: Example, template_words: frozenset[str]) -> str | None:
    """The first rule the example breaks, or None when it may be kept."""
    return (
        check_length(example)
        or check_citations(example, template_words)
        or check_quote(example)
        or check_own_words(example)
    )


_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
# Each letter's right-hand neighbour on a QWERTY keyboard (the last of a row: its left one).
_KEYBOARD = {
    row[i]: row[i + 1] if i + 1 < len(row) else row[i - 1] for row in _ROWS for i in range(len(row))
}


def typo(text: str, rng: random.Random) -> str:
    """`text` with one edit in one longer word: a letter dropped, doubled or mistyped as its
    keyboard neighbour. The same rng state gives the same typo."""
    spots = [m for m in re.finditer(r"[A-Za-z]{4,}", text)]
    if not spots:
        return text
    word = rng.choice(spots)
    at = rng.randrange(word.start() + 1, word.end())
    edit = rng.choice(("drop", "double", "neighbour"))
    if edit == "drop":
        return text[:at] + text[at + 1 :]
    if edit == "double":
        return text[:at] + text[at] + text[at:]
    letter = text[at].lower()
    return text[:at] + _KEYBOARD.get(letter, "x") + text[at + 1 :]
