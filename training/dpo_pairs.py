"""Preference pairs made from grounded fine-tuning examples, one pair per kind of wrong reply.

A grounded example is a conversation whose last user turn is the backend's `grounded_question`
prompt (the instruction, sources numbered [1]..[k], the question), as training/smol/dataset.py
writes them, and whose reply cites only sources that exist. The chosen reply is that cited
answer; the rejected reply is the same answer made wrong in one way, its `kind`:

- `uncited`: the answer with every citation marker ([1], [1, 2]) removed.
- `hallucinated`: the answer citing a source number that does not exist, or (half the time,
  when there is a source the answer does not cite) a distractor source's first sentence stated
  as the answer under the answer's own citation. A refusal (no source answers) is the chosen
  reply of one such pair too: the rejected reply states a source's first sentence as the
  answer and cites it, so preference tuning does not teach answering at any cost.
- `padded`: the answer going on to a second claim its citation does not hold, a distractor
  source's first sentence ("Also, …") cited as the answer is.
- `over-refusing`: the refusal hearth-smol is trained to give when no source answers, although
  a source does. Every answered example makes one, or only `over_refusing_per_refusal`
  times as many as there are refusals: one per answered example outweighs the refusals'
  pairs several times, which taught hearth-smol v2c and v2d never to decline.
- `repetitive`: the answer's first sentence looping 4-6 times, as a greedy reply that never
  reaches its end does.
- `cut-short`: an answer of several sentences stopped after its first, cited: the claim
  without the quote or the second source that completes it. Padded and repetitive pairs
  reject a longer reply; this one rejects a shorter one, so that preference tuning does not
  learn to end early.

Chat and image examples make no pairs.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence

from backend.documents.grounding import INSTRUCTION
from training.dpo_data import PAIR_KINDS, PreferencePair
from training.finetune_data import Messages
from training.smol.voice import REFUSAL

# "[1]" or "[1, 3]", as the instruction asks the model to cite.
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SOURCES, _QUESTION = "\n\nSources:\n\n", "\n\nQuestion: "
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_MAX_DISTRACTOR_WORDS = 40

Sources = dict[int, str]  # source number -> its passage
MakeRejected = Callable[[str, Sources, random.Random], str]


def parse_sources(prompt: str) -> Sources | None:
    """The numbered passages of a `grounded_question` prompt, or None if it is not one.

    Sources are "[n] label\\npassage" joined by blank lines; a passage may hold blank lines
    itself, so the text is split only where the next number in sequence starts.
    """
    if not prompt.startswith(INSTRUCTION) or _SOURCES not in prompt or _QUESTION not in prompt:
        return None
    listed = prompt.split(_SOURCES, 1)[1].rsplit(_QUESTION, 1)[0]
    if not listed.startswith("[1] "):
        return None
    sources: Sources = {}
    number, start = 1, 0
    while start >= 0:
        end = listed.find(f"\n\n[{number + 1}] ", start)
        block = listed[start : end if end >= 0 else len(listed)]
        sources[number] = block.partition("\n")[2]  # the first line is the label
        number, start = number + 1, (end + 2 if end >= 0 else -1)
    return sources


def cited_numbers(reply: str) -> set[int]:
    return {int(n) for marker in _CITATION.findall(reply) for n in marker.split(",")}


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(" ".join(text.split())) if s]


def uncited(reply: str, sources: Sources, rng: random.Random) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _CITATION.sub("", reply)).strip()


def _first_claim(passage: str) -> str:
    words = _sentences(passage)[0].split()
    return " ".join(words[:_MAX_DISTRACTOR_WORDS]).rstrip(".!?")


def hallucinated(reply: str, sources: Sources, rng: random.Random) -> str:
    cited = cited_numbers(reply)
    distractors = [n for n in sorted(sources) if n not in cited and _sentences(sources[n])]
    if distractors and rng.random() < 0.5:
        return f"{_first_claim(sources[rng.choice(distractors)])} [{min(cited)}]."
    missing = len(sources) + rng.randint(1, 3)
    return _CITATION.sub(f"[{missing}]", reply)


def padded(reply: str, sources: Sources, rng: random.Random) -> str:
    cited = cited_numbers(reply)
    distractors = [n for n in sorted(sources) if n not in cited and _sentences(sources[n])]
    if not distractors:
        return reply  # nothing to pad with: no pair
    extra = _first_claim(sources[rng.choice(distractors)])
    if extra[1:2].islower():  # a plain word, not a name or a code
        extra = extra[:1].lower() + extra[1:]
    return f"{reply} Also, {extra} [{min(cited)}]."


def answered_anyway(sources: Sources, rng: random.Random) -> str | None:
    """What a model that will not decline says when no source answers: a source's first
    sentence, cited (None when no source has a sentence)."""
    usable = [n for n in sorted(sources) if _sentences(sources[n])]
    if not usable:
        return None
    n = rng.choice(usable)
    return f"{_first_claim(sources[n])} [{n}]."


def over_refusing(reply: str, sources: Sources, rng: random.Random) -> str:
    return f"{REFUSAL}."


def repetitive(reply: str, sources: Sources, rng: random.Random) -> str:
    return " ".join([_sentences(reply)[0]] * rng.randint(4, 6))


def cut_short(reply: str, sources: Sources, rng: random.Random) -> str:
    sentences = _sentences(reply)
    if len(sentences) < 2:
        return reply  # nothing to cut: no pair
    first = sentences[0]
    if not cited_numbers(first):
        first = f"{first.rstrip('.!?')} [{min(cited_numbers(reply))}]."
    return first


KINDS: dict[str, MakeRejected] = dict(
    zip(
        PAIR_KINDS,
        (uncited, hallucinated, padded, over_refusing, repetitive, cut_short),
        strict=True,
    )
)


def grounded_reply(messages: Messages) -> tuple[Sources, str] | None:
    """(sources, reply) when `messages` is a grounded example whose reply cites only sources
    that exist or is a refusal citing nothing."""
    if len(messages) < 2 or messages[-1]["role"] != "assistant" or messages[-2]["role"] != "user":
        return None
    sources = parse_sources(messages[-2]["content"])
    reply = messages[-1]["content"]
    cited = cited_numbers(reply)
    refusal = reply.startswith(REFUSAL) and not cited
    if not sources or not (refusal or cited and cited <= set(sources)):
        return None
    return sources, reply


def preference_pairs(
    conversations: Iterable[Messages],
    kinds: Sequence[str] = PAIR_KINDS,
    seed: int = 0,
    over_refusing_per_refusal: float | None = None,
) -> list[PreferencePair]:
    """One pair of each kind for every grounded example with a cited answer, and a
    hallucinated one for every refusal; given `over_refusing_per_refusal` R, over-refusing
    pairs only for R times as many answers (drawn at random) as there are refusals."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown pair kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    if over_refusing_per_refusal is not None and over_refusing_per_refusal < 0:
        raise ValueError(f"--over-refusing must be 0 or more, not {over_refusing_per_refusal:g}")
    rng = random.Random(seed)
    grounded = [
        (messages, found)
        for messages in conversations
        if (found := grounded_reply(messages)) is not None
    ]
    answered = [i for i, (_, (_, reply)) in enumerate(grounded) if not reply.startswith(REFUSAL)]
    refusals = len(grounded) - len(answered)
    over_refusing = len(answered)
    if over_refusing_per_refusal is not None:
        over_refusing = min(round(refusals * over_refusing_per_refusal), over_refusing)
    may_over_refuse = set(rng.sample(answered, over_refusing))
    pairs = []
    for i, (messages, (sources, reply)) in enumerate(grounded):
        if reply.startswith(REFUSAL):
            answer = answered_anyway(sources, rng) if "hallucinated" in kinds else None
            if answer is not None:
                pairs.append(PreferencePair(messages[:-1], reply, answer, "hallucinated"))
            continue
        for kind in kinds:
            if kind == "over-refusing" and i not in may_over_refuse:
                continue
            rejected = KINDS[kind](reply, sources, rng)
            if rejected != reply:
                pairs.append(PreferencePair(messages[:-1], reply, rejected, kind))
    return pairs
