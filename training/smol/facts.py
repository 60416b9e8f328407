"""Term-and-description facts found in documentation text, the raw material of grounded examples.

PostgreSQL's manual lists catalog columns, parameters and acronyms as a short term line followed
by a description line; WordNet's glosses are "word, synonym: definition; examples" lines.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# A lower-case identifier with an optional type ("ev_type char", "work_mem (integer)"), or an
# upper-case name alone on its line ("ANSI", "PGTYPES_DATE_BAD_DATE").
_TERM = re.compile(
    r"^(?:([a-z][a-z0-9_]{2,40})(?: [\w\[\]().,\" ]{1,40})?|([A-Z][A-Z0-9_]{1,30}))$"
)
_TITLE_NUMBER = re.compile(r"^(?:Appendix )?[A-Z0-9]+(?:\.\d+)*\.\s+")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\.\s")
STOPWORD_TEXT = (
    "the a an of to in and or is are be for that this with as by on it its from at which when "
    "not if can any all has have was were will may used use uses using one each such than into "
    "only also been being other some more most but so there their these those what who"
)
STOPWORDS = frozenset(STOPWORD_TEXT.split())


@dataclass(frozen=True)
class Fact:
    """One described term, where it was found, and the words an answer must contain."""

    subject: str  # the term asked about: a column, a parameter, an acronym, a word
    context: str  # what it belongs to: "pg_rewrite", "adjectives"
    kind: str  # "term" or "word"
    term_line: str
    description: str  # the first sentence or gloss, at most about 40 words
    document: str  # which document (file or block) it came from, for the train/held-out split
    path: str  # the path shown in the source label
    line: int  # 1-based line of the term

    @property
    def source_text(self) -> str:
        if self.kind == "word":
            return f"{self.term_line}: {self.description}"
        return f"{self.term_line}\n{self.description}"

    @property
    def keywords(self) -> list[str]:
        """Up to six content words of the description, for scoring answers."""
        words = [w.strip(".,;:()\"'").lower() for w in self.description.split()]
        found: list[str] = []
        for word in words:
            if len(word) >= 4 and word not in STOPWORDS and word not in found:
                found.append(word)
        return found[:6]


def first_sentence(text: str, max_words: int = 30) -> str:
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0].strip().rstrip(".")
    words = sentence.split()
    if len(words) > max_words:
        return " ".join(words[:max_words]) + " …"
    return sentence + "."


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "page"


def document_facts(path: Path) -> list[Fact]:
    """Term lines followed by a description line, in a PostgreSQL manual page."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if len(lines) < 3:
        return []
    context = _TITLE_NUMBER.sub("", lines[0]).strip()
    shown = f"postgresql/{_slug(context)}.txt"
    facts: list[Fact] = []
    seen: set[str] = set()
    for index in range(1, len(lines) - 1):
        term, description = lines[index].strip(), lines[index + 1].strip()
        match = _TERM.match(term)
        if not match or term.endswith(".") or len(description.split()) < 4:
            continue
        subject = match.group(1) or match.group(2)
        if not description[:1].isupper() or _TERM.match(description) or subject in seen:
            continue
        seen.add(subject)
        facts.append(
            Fact(
                subject,
                context,
                "term",
                term,
                first_sentence(description),
                path.name,
                shown,
                index + 1,
            )
        )
    return facts


def postgres_facts(folder: Path) -> Iterator[Fact]:
    for path in sorted(folder.glob("*.txt")):
        yield from document_facts(path)


_WORDNET_PARTS = {
    "00000.txt": "adjectives",
    "00001.txt": "adverbs",
    "00002.txt": "nouns",
    "00003.txt": "verbs",
}
WORDNET_BLOCK = 40  # lines per "document": neighbouring glosses stay on one side of the split


def wordnet_facts(folder: Path) -> Iterator[Fact]:
    for path in sorted(folder.glob("*.txt")):
        part = _WORDNET_PARTS.get(path.name, path.stem)
        text = path.read_text(encoding="utf-8", errors="replace")
        for index, line in enumerate(text.splitlines()):
            words, sep, gloss = line.partition(": ")
            subject = words.split(",")[0].strip()
            if not sep or len(subject) < 4 or not subject.replace(" ", "").isalpha():
                continue
            definition = gloss.split(";")[0].strip()
            if len(definition.split()) < 4:
                continue
            yield Fact(
                subject,
                part,
                "word",
                words,
                first_sentence(definition),
                f"{path.name}#{index // WORDNET_BLOCK}",
                f"wordnet/{part}.txt",
                index + 1,
            )


def is_heldout(document: str, fraction: float = 0.15) -> bool:
    """A stable hash of the document decides its side, so reruns keep the same split."""
    digest = hashlib.sha256(document.encode()).digest()
    return digest[0] / 256 < fraction
