"""Preference pairs for DPO: JSONL records of a prompt conversation with a chosen and a rejected
reply, tokenized like fine-tuning's examples with the loss on the final reply only.

One record a line: {"messages": [...the conversation up to the reply...], "chosen": "...",
"rejected": "...", "kind": "..."}; `kind` names how the rejected reply is wrong (see
training/dpo_pairs.py) and is kept for reports only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from training.finetune_data import (
    IGNORE_INDEX,
    EncodedExample,
    InvalidExampleError,
    Messages,
    RenderChat,
    Tokenize,
    encode_conversation,
    split_eval,
)

# How a rejected reply is wrong; training/dpo_pairs.py documents and makes each.
PAIR_KINDS = ("uncited", "hallucinated", "padded", "over-refusing", "repetitive", "cut-short")


@dataclass(frozen=True)
class PreferencePair:
    messages: Messages  # the prompt: every turn before the reply, ending with the user's
    chosen: str
    rejected: str
    kind: str = ""

    def conversation(self, reply: str) -> Messages:
        return [*self.messages, {"role": "assistant", "content": reply}]


def read_pairs(path: Path) -> list[PreferencePair]:
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        messages, chosen, rejected = (record.get(k) for k in ("messages", "chosen", "rejected"))
        if not messages or messages[-1].get("role") != "user":
            raise InvalidExampleError(f"{path}:{number} needs messages ending with a user turn")
        if not isinstance(chosen, str) or not isinstance(rejected, str) or chosen == rejected:
            raise InvalidExampleError(f"{path}:{number} needs two different replies")
        pairs.append(PreferencePair(messages, chosen, rejected, str(record.get("kind", ""))))
    return pairs


def write_pairs(path: Path, pairs: Iterable[PreferencePair]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(asdict(pair), ensure_ascii=False) + "\n")
    return path


def split_pairs(
    pairs: Sequence[PreferencePair], fraction: float, seed: int
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, held-out) with every pair of one prompt on the same side, so the held-out
    measures show prompts the run never trained on."""
    groups: dict[str, list[PreferencePair]] = {}
    for pair in pairs:
        groups.setdefault(json.dumps(pair.messages, sort_keys=True), []).append(pair)
    train, heldout = split_eval(list(groups.values()), fraction, seed)
    return [p for g in train for p in g], [p for g in heldout for p in g]


def encode_reply(
    messages: Messages, reply: str, render: RenderChat, tokenize: Tokenize
) -> EncodedExample:
    """The prompt and `reply` with labels on the reply (and its end of turn) only: earlier
    assistant turns in the prompt are context here, not something to prefer."""
    conversation = [*messages, {"role": "assistant", "content": reply}]
    example = encode_conversation(conversation, render, tokenize, max_tokens=2**31)
    prompt = render(messages, True)
    reply_tokens = len(tokenize(render(conversation, False)[len(prompt) :]))
    start = len(example.labels) - reply_tokens
    return EncodedExample(example.input_ids, [IGNORE_INDEX] * start + example.labels[start:])


def encode_pair(
    pair: PreferencePair, render: RenderChat, tokenize: Tokenize, max_tokens: int
) -> tuple[EncodedExample, EncodedExample] | None:
    """(chosen, rejected), or None when either is longer than `max_tokens`: cutting the end
    could cut away the very part where the two replies differ."""
    encoded = (
        encode_reply(pair.messages, pair.chosen, render, tokenize),
        encode_reply(pair.messages, pair.rejected, render, tokenize),
    )
    if any(len(e.input_ids) > max_tokens for e in encoded):
        return None
    return encoded
