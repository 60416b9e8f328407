"""Scoring a grounded reply: how much of a reference answer it holds, what it cites, whether
it declines. Pure text functions, used by bench/smol_rag_eval.py and tested on their own
(tests/bench/test_answer_scoring.py).

- **Overlap.** *Content words* are a text's distinct words, lowercased, split into runs of
  letters, digits and underscores (so `os.path.join` gives os, path, join), one-letter words
  and English stopwords left out, a plural "s" taken off. The reference's *key words* are its
  first `KEY_WORDS` content words that are not content words of the question (all of its first
  ones if that leaves none). Overlap is the share of key words that are content words of the
  reply. Question words are left out because a reply that only restates the question ("No, you
  cannot give read a default timeout") would otherwise score on them. Only the first key words
  count because FAQ answers run to a median of about 75 distinct words, most of them
  elaboration and examples after the opening sentences that answer; a reply of a few sentences
  cannot hold half of all of them, but a good one restates the opening. A reference with fewer
  key words (a short passage) counts all of them.
- **Citations.** Numbers in square brackets not directly after a letter or digit (`[2]`,
  `[1, 3]`, `[1][2]`, but not the index in `argv[1]`), kept when a source of that number was
  given.
- **Declining.** A reply declines when a decline phrase (the sources do not say / mention /
  answer ..., no information, cannot answer, not mentioned in the ..., I don't know, the
  backend's own "I found nothing ...") stands in its first sentence, or anywhere in a reply that
  cites no given source. A partial answer ("X is done with Y [1]. The sources do not say Z.")
  thus does not count as declining; "The sources do not say; [1] is about W." does.
"""

from __future__ import annotations

import re

KEY_WORDS = 20
ANSWERED = 0.5  # the overlap at which a reply counts as holding the answer's content

_WORD = re.compile(r"[a-z0-9_]+")
_STOPWORD_LIST = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each either etc few
    for from further had has have having he her here hers him his how however i if in into is it
    its itself just let like may me might more most much must my no nor not now of off on once
    one only or other our ours out over own same shall she should since so some such than that
    the their theirs them then there these they this those through thus to too under until up
    upon us use used using very via was way we were what when where whether which while who whom
    why will with within without would yes yet you your yours"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())

_CITATION = re.compile(r"(?<![A-Za-z0-9_])\[(\d+(?:\s*,\s*\d+)*)\]")
_DECLINE = re.compile(
    r"""
    \b(?:sources?|documents?|passages?|context|texts?)\b[^.\n]{0,60}?
        \b(?:do(?:es)?\s+not|don't|doesn't|did\s+not|didn't|never)\s+
        (?:answer|say|mention|contain|provide|include|cover|describe|explain|specify|address
           |discuss|give|state|tell|hold)
    | \bno\s+(?:information|mention|answer|details?)\b
    | \b(?:cannot|can't|can\s+not|unable\s+to|not\s+able\s+to)\s+
        (?:answer|find|determine|tell|say)\b
    | \bnot\s+(?:mentioned|covered|addressed|specified|answered|stated|described|found)\s+
        (?:in|by)\s+(?:the|any|these)\b
    | \bI\s+(?:do\s+not|don't)\s+know\b
    | \bfound\s+nothing\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _base(word: str) -> str:
    """A plural "s" off ("options" → "option"), leaving "ss" endings and short words."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def content_words(text: str) -> list[str]:
    """The distinct content words of `text`, in the order they first appear."""
    words = (_base(w) for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in STOPWORDS)
    return list(dict.fromkeys(words))


def key_words(reference: str, question: str = "") -> list[str]:
    words = content_words(reference)
    asked = set(content_words(question))
    return ([w for w in words if w not in asked] or words)[:KEY_WORDS]


def overlap(reply: str, reference: str, question: str = "") -> float:
    """Share of the reference's key words found in the reply (0 for a reference without any)."""
    keys = key_words(reference, question)
    if not keys:
        return 0.0
    said = set(content_words(reply))
    return sum(k in said for k in keys) / len(keys)


def citations(reply: str, sources: int) -> set[int]:
    """The source numbers (1 to `sources`) the reply cites."""
    found = {int(n) for group in _CITATION.findall(reply) for n in re.findall(r"\d+", group)}
    return {n for n in found if 1 <= n <= sources}


def declines(reply: str, sources: int) -> bool:
    """Whether the reply declines to answer (see the module's docstring)."""
    if not _DECLINE.search(reply):
        return False
    first = _SENTENCE_END.split(reply.strip(), maxsplit=1)[0]
    return bool(_DECLINE.search(first)) or not citations(reply, sources)
