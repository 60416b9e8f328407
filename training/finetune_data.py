"""Chat examples for fine-tuning: JSONL conversations, tokenized with the loss on replies only.

Each turn is rendered with the model's own chat template, the same way the backend renders it
at serving time, so the adapter learns exactly the prompts it will be given.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IGNORE_INDEX = -100  # label for tokens that carry no loss (prompts, padding)

Messages = list[dict[str, str]]
RenderChat = Callable[[Sequence[dict[str, str]], bool], str]  # (messages, add_generation_prompt)
Tokenize = Callable[[str], list[int]]


class InvalidExampleError(ValueError):
    """A training example is not a conversation with at least one assistant reply."""


@dataclass(frozen=True)
class EncodedExample:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX except on assistant replies and their end-of-turn tokens

    @property
    def target_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def read_conversations(path: Path) -> list[Messages]:
    """One {"messages": [{"role", "content"}, ...]} object per line."""
    conversations = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        messages = json.loads(line).get("messages")
        if not messages or not any(m.get("role") == "assistant" for m in messages):
            raise InvalidExampleError(f"{path}:{number} has no assistant message to learn from")
        conversations.append(messages)
    return conversations


def write_conversations(path: Path, conversations: Iterable[Messages]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for messages in conversations:
            handle.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    return path


def encode_conversation(
    messages: Messages, render: RenderChat, tokenize: Tokenize, max_tokens: int
) -> EncodedExample:
    """Tokens of the rendered conversation; labels are set on every assistant turn only.

    The text is tokenized in pieces that end where each reply starts, as llama.cpp sees it:
    the prompt is tokenized whole and the reply is generated token by token after it.
    """
    input_ids: list[int] = []
    labels: list[int] = []
    rendered = ""
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = render(messages[:index], True)
        reply = render(messages[: index + 1], False)
        if not prompt.startswith(rendered) or not reply.startswith(prompt):
            raise InvalidExampleError("the chat template does not render turns incrementally")
        prompt_ids = tokenize(prompt[len(rendered) :])
        reply_ids = tokenize(reply[len(prompt) :])
        input_ids += prompt_ids + reply_ids
        labels += [IGNORE_INDEX] * len(prompt_ids) + reply_ids
        rendered = reply
    if not input_ids:
        raise InvalidExampleError("a conversation needs at least one assistant message")
    return EncodedExample(input_ids[:max_tokens], labels[:max_tokens])


def split_eval(examples: Sequence[Any], fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """(train, held-out): a seeded random `fraction` is held out, at least one example."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    count = max(1, round(len(examples) * fraction))
    held = set(order[:count])
    return (
        [e for i, e in enumerate(examples) if i not in held],
        [e for i, e in enumerate(examples) if i in held],
    )


def batch_schedule(count: int, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """Example indices for every step: seeded epochs of shuffled examples, so resuming at step
    k continues with exactly the batches an uninterrupted run would have seen."""
    order: list[int] = []
    epoch = 0
    while len(order) < steps * batch_size:
        permutation = list(range(count))
        random.Random(seed * 1000 + epoch).shuffle(permutation)
        order += permutation
        epoch += 1
    return [order[s * batch_size : (s + 1) * batch_size] for s in range(steps)]
