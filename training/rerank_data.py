"""Weakly supervised (query, passage) pairs for the reranker, mined from document structure.

Every pair comes from how a manual is laid out, never from a question someone wrote:
a heading and the text under it, a reference page's one-line purpose (the man-page NAME line)
and its Description, a glossary term and its definition, a WordNet lemma and its gloss.
Each query gets hard negatives: BM25's best wrong passages, one from its own document when
there is one, and one random passage so that "nothing relevant" is seen too.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

from training.corpus import html_to_text, is_faq_page, wordnet_to_text

_HEADING_MARK = "\x02"
_NUMBERING = re.compile(
    r"^(?:[A-Z]?\d+(?:\.\d+)*\.?|[A-Z](?:\.\d+)+\.?|(?:Part |Chapter |Appendix )?[IVXL\dA-Z]+\.)\s+"
)
# Headings that say nothing about their section's content on their own.
_GENERIC_HEADINGS = frozenset(
    {
        *("description", "synopsis", "parameters", "examples", "example", "notes", "note"),
        *("compatibility", "see also", "options", "environment", "diagnostics", "outputs"),
        *("output", "overview", "introduction", "usage", "files", "bugs", "author", "authors"),
        *("table of contents", "index", "preface", "name", "arguments", "return value"),
        *("history", "tip", "warning", "caution", "important", "changes", "migration"),
    }
)
PASSAGE_WORDS = 130  # about the 180 word pieces of one of Hearth's chunks


@dataclass(frozen=True)
class Pair:
    """One positive pair; `source` names where it came from, for the card's counts."""

    query: str
    passage: str
    document: str
    kind: str  # heading | name-line | glossary | question-heading | wordnet


@dataclass(frozen=True)
class Group:
    """A query with its positive first and its negatives after it."""

    query: str
    passages: tuple[str, ...]
    kind: str


def _cut(text: str, words: int = PASSAGE_WORDS) -> str:
    return " ".join(text.split()[:words])


def _heading_query(heading: str) -> str:
    return _NUMBERING.sub("", heading).strip()


def _sections(html: str) -> list[tuple[str, str]]:
    """(heading, text under it up to the next heading) for one HTML page."""
    soup = BeautifulSoup(html, "html.parser")
    for heading in soup.find_all(["h1", "h2", "h3", "h4"]):
        heading.insert(0, _HEADING_MARK)
    sections: list[tuple[str, list[str]]] = []
    for line in html_to_text(str(soup)).split("\n"):
        if line.startswith(_HEADING_MARK):
            sections.append((line.strip(_HEADING_MARK + " "), []))
        elif sections:
            sections[-1][1].append(line.replace("\x01", ""))
    return [(title, "\n".join(body)) for title, body in sections]


def _useful_heading(query: str) -> bool:
    words = query.split()
    return 1 <= len(words) <= 14 and query.lower() not in _GENERIC_HEADINGS and len(query) > 3


def heading_pairs(document: str, html: str) -> Iterator[Pair]:
    """Heading → its section; a question-shaped heading is marked as such."""
    for heading, body in _sections(html):
        query = _heading_query(heading)
        if _useful_heading(query) and len(body.split()) >= 20:
            kind = "question-heading" if query.endswith("?") else "heading"
            yield Pair(query, _cut(body), document, kind)


def name_line_pairs(document: str, html: str) -> Iterator[Pair]:
    """A reference page's NAME line ('CREATE TABLE — define a new table') → its Description."""
    soup = BeautifulSoup(html, "html.parser")
    name = soup.select_one("div.refnamediv p")
    if name is None or " — " not in name.get_text():
        return
    purpose = name.get_text().split(" — ", 1)[1].strip()
    for heading, body in _sections(html):
        if heading.lower() == "description" and len(body.split()) >= 20:
            yield Pair(purpose, _cut(body), document, "name-line")


def glossary_pairs(document: str, html: str) -> Iterator[Pair]:
    """A glossary term → its definition, leaving out 'See X' cross references."""
    soup = BeautifulSoup(html, "html.parser")
    for term in soup.select("dt span.glossterm"):
        entry = term.find_parent("dt")
        definition = entry.find_next_sibling("dd") if entry else None
        text = " ".join(definition.get_text().split()) if definition else ""
        if len(text.split()) >= 8 and not text.startswith("See "):
            query = re.sub(r"\s*\([^)]*\)$", "", term.get_text()).strip()
            yield Pair(query, _cut(text), document, "glossary")


def wordnet_pairs(data: str, document: str, limit: int, rng: random.Random) -> list[Pair]:
    """A lemma → its gloss without the lemma, so the link is meaning, not a shared word."""
    pairs = []
    for line in wordnet_to_text(data).split("\n"):
        words, _, gloss = line.partition(": ")
        first = words.split(", ")[0]
        if len(gloss.split()) >= 8 and first.isascii():
            pairs.append(Pair(first, gloss, document, "wordnet"))
    rng.shuffle(pairs)
    return pairs[:limit]


def html_pairs(root: Path) -> list[Pair]:
    """Every structural pair of every HTML page under `root`, FAQ pages left out."""
    pairs: list[Pair] = []
    for path in sorted(root.glob("*.html")):
        relative = path.relative_to(root).as_posix()
        # Release notes repeat the same headings for every version.
        if is_faq_page(relative) or relative.startswith("release"):
            continue
        html = path.read_text(encoding="utf-8", errors="replace")
        pairs += heading_pairs(relative, html)
        pairs += name_line_pairs(relative, html)
        pairs += glossary_pairs(relative, html)
    return pairs


def _unique(pairs: Sequence[Pair]) -> list[Pair]:
    """One pair per query: a heading used twice ('Examples' of what?) is ambiguous."""
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.query.lower()] = counts.get(pair.query.lower(), 0) + 1
    return [p for p in pairs if counts[p.query.lower()] == 1]


def mine_groups(pairs: Sequence[Pair], negatives: int, seed: int) -> list[Group]:
    """Each pair with BM25 hard negatives (one from its own document when possible) and a
    random passage."""
    import bm25s

    rng = random.Random(seed)
    pairs = _unique(pairs)
    passages = [p.passage for p in pairs]
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(passages, stopwords="en", show_progress=False), show_progress=False
    )
    queries = bm25s.tokenize([p.query for p in pairs], stopwords="en", show_progress=False)
    found, _ = retriever.retrieve(queries, k=min(20, len(passages)), show_progress=False)
    groups = []
    for index, pair in enumerate(pairs):
        wrong = [int(j) for j in found[index] if passages[int(j)] != pair.passage]
        same_document = [j for j in wrong if pairs[j].document == pair.document][:1]
        hard = same_document + [j for j in wrong if j not in same_document]
        chosen = hard[: negatives - 1]
        others = [j for j in range(len(passages)) if j != index and j not in chosen]
        chosen.append(rng.choice(others))  # random, so unrelated text is seen too
        if len(chosen) == negatives:
            groups.append(
                Group(pair.query, (pair.passage, *(passages[j] for j in chosen)), pair.kind)
            )
    return groups


def split_by_document(
    pairs: Sequence[Pair], held_out: float, seed: int
) -> tuple[list[Pair], list[Pair]]:
    """Train and validation pairs from different documents, so validation is unseen text."""
    documents = sorted({p.document for p in pairs})
    random.Random(seed).shuffle(documents)
    validation = set(documents[: max(1, int(len(documents) * held_out))])
    return [p for p in pairs if p.document not in validation], [
        p for p in pairs if p.document in validation
    ]
