"""Reading function calls out of a model's reply, whole or as it streams.

Models write calls in their own formats; every one Hearth knows is read, whichever model wrote
it (the special tokens that open some are not in the text, so their bare JSON is read too):

- Hermes, Qwen and Hearth's fallback prompt: `<tool_call>{"name": ..., "arguments": {...}}
  </tool_call>`, one block per call;
- Llama 3.x: the whole reply is `{"name": ..., "parameters": {...}}`, maybe after
  `<|python_tag|>`, several separated by `;`;
- Mistral: `[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]`, and the newer
  `[TOOL_CALLS]name[ARGS]{...}`.

A reply that names a function not offered, or whose JSON does not parse, is plain text: the
client sees what the model wrote, never an error.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

HERMES_OPEN, HERMES_CLOSE = "<tool_call>", "</tool_call>"
MISTRAL_MARK, MISTRAL_ARGS = "[TOOL_CALLS]", "[ARGS]"
PYTHON_TAG = "<|python_tag|>"
# Where a call may begin inside a reply; a reply that starts with JSON may be one, too.
MARKERS = (HERMES_OPEN, MISTRAL_MARK, PYTHON_TAG)
JSON_OPENERS = ("{", "[")

_HERMES_BLOCK = re.compile(
    re.escape(HERMES_OPEN) + r"(.*?)(?:" + re.escape(HERMES_CLOSE) + r"|\Z)", re.DOTALL
)
# Lenient about raw control characters in strings, which JSON forbids but models write; the
# arguments handed on are re-encoded, so clients always get strict JSON.
_decoder = json.JSONDecoder(strict=False)


@dataclass(frozen=True)
class ToolCall:
    """One call the model made: the function's name and its arguments as JSON text."""

    name: str
    arguments: str
    id: str = ""

    @staticmethod
    def new_id() -> str:
        return f"call_{uuid.uuid4().hex[:24]}"


@dataclass(frozen=True)
class ParsedReply:
    content: str | None  # the text outside the calls; None when there is none
    calls: tuple[ToolCall, ...] = ()


class MalformedCall(ValueError):
    """The reply looked like a call but is not one; it stays text."""


def _call_from(value: Any, offered: frozenset[str]) -> ToolCall:
    """A call from its decoded JSON object: `name` and `arguments` (or Llama's `parameters`)."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise MalformedCall("a call is a JSON object with a name")
    if value["name"] not in offered:
        raise MalformedCall(f"'{value['name']}' is not an offered function")
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):  # some models write the arguments as a JSON string
        arguments = _loads(arguments)
    if not isinstance(arguments, dict):
        raise MalformedCall("a call's arguments are a JSON object")
    return ToolCall(value["name"], json.dumps(arguments, ensure_ascii=False))


def _loads(text: str) -> Any:
    try:
        return _decoder.decode(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past Python's limit
        raise MalformedCall(str(exc)) from exc


def _json_values(text: str, separators: str = "") -> Iterator[Any]:
    """Consecutive JSON values in `text`, with whitespace and `separators` between them."""
    position, skip = 0, " \t\r\n" + separators
    while True:
        while position < len(text) and text[position] in skip:
            position += 1
        if position == len(text):
            return
        try:
            value, position = _decoder.raw_decode(text, position)
        except (ValueError, RecursionError) as exc:
            raise MalformedCall(str(exc)) from exc
        yield value


def _calls_in_json(text: str, offered: frozenset[str], separators: str = "") -> list[ToolCall]:
    """Calls written as JSON objects, or lists of them (Mistral's), one after another."""
    calls: list[ToolCall] = []
    for value in _json_values(text, separators):
        items = value if isinstance(value, list) else [value]
        calls.extend(_call_from(item, offered) for item in items)
    if not calls:
        raise MalformedCall("no call")
    return calls


def _hermes(text: str, offered: frozenset[str]) -> tuple[str, list[ToolCall]]:
    blocks = list(_HERMES_BLOCK.finditer(text))
    calls = [_call_from(_loads(block.group(1).strip()), offered) for block in blocks]
    return _HERMES_BLOCK.sub("", text), calls


def _mistral(text: str, offered: frozenset[str]) -> tuple[str, list[ToolCall]]:
    before, _, rest = text.partition(MISTRAL_MARK)
    if MISTRAL_ARGS not in rest:  # [TOOL_CALLS][{...}, ...]
        return before, _calls_in_json(rest.replace(MISTRAL_MARK, ""), offered)
    calls = []  # [TOOL_CALLS]name[ARGS]{...}, repeated
    for part in rest.split(MISTRAL_MARK):
        name, _, arguments = part.partition(MISTRAL_ARGS)
        calls.append(_call_from({"name": name.strip(), "arguments": _loads(arguments)}, offered))
    return before, calls


def _llama(text: str, offered: frozenset[str]) -> tuple[str, list[ToolCall]]:
    before, _, rest = text.partition(PYTHON_TAG)
    return before, _calls_in_json(rest, offered, separators=";")


def _bare_json(text: str, offered: frozenset[str]) -> tuple[str, list[ToolCall]]:
    return "", _calls_in_json(text, offered, separators=";")


Reader = Callable[[str, frozenset[str]], tuple[str, list[ToolCall]]]
# Which reader a reply needs, by what it holds; the first that applies is used.
_READERS: tuple[tuple[Callable[[str], bool], Reader], ...] = (
    (lambda text: HERMES_OPEN in text, _hermes),
    (lambda text: MISTRAL_MARK in text, _mistral),
    (lambda text: PYTHON_TAG in text, _llama),
    (lambda text: text.lstrip().startswith(JSON_OPENERS), _bare_json),
)


# Why a call may not be returned as one (its arguments break a strict schema), or None.
CallCheck = Callable[[ToolCall], str | None]


def parse_reply(
    text: str, offered: frozenset[str], parallel: bool = True, check: CallCheck | None = None
) -> ParsedReply:
    """The reply's text (stripped) and the calls in it; with `parallel` false, only the first.
    A call that `check` refuses leaves the whole reply as text.

    A reply with calls and no other text has `content` None, as OpenAI sends it."""
    plain = ParsedReply(text.strip())
    reader = next((read for applies, read in _READERS if applies(text)), None)
    if reader is None:
        return plain
    try:
        content, calls = reader(text, offered)
    except MalformedCall:
        return plain
    if not calls or (check and any(check(call) for call in calls)):
        return plain
    kept = calls if parallel else calls[:1]
    return ParsedReply(content.strip() or None, tuple(_with_ids(kept)))


def _with_ids(calls: list[ToolCall]) -> Iterator[ToolCall]:
    for call in calls:
        yield ToolCall(call.name, call.arguments, ToolCall.new_id())


class ToolCallStream:
    """Streams a reply's text while holding back whatever may be a call, until it ends.

    Text before a call marker streams at once; from a marker on (or from the start, when the
    reply opens with JSON) it waits for the end, where `finish` reads the calls. Content is
    stripped, so whitespace waits until text follows it: what streamed is always the start of
    the final content.
    """

    def __init__(
        self, offered: frozenset[str], parallel: bool = True, check: CallCheck | None = None
    ) -> None:
        self._offered, self._parallel, self._check = offered, parallel, check
        self._text = ""
        self._shown = ""  # the content handed out so far
        self._holding = False  # a call may have begun: hold everything from here

    def push(self, piece: str) -> str:
        """Add generated text; return the part now safe to show as content."""
        self._text += piece
        if self._holding or self._text.lstrip().startswith(JSON_OPENERS):
            self._holding = True
            return ""
        marker = min((at for at in map(self._text.find, MARKERS) if at >= 0), default=-1)
        if marker >= 0:
            self._holding = True
            return self._show(self._text[:marker])
        return self._show(self._text[: len(self._text) - self._possible_marker_start()])

    def finish(self) -> tuple[str, ParsedReply]:
        """The content not shown yet, and the whole reply read for calls."""
        parsed = parse_reply(self._text, self._offered, self._parallel, self._check)
        return (parsed.content or "")[len(self._shown) :], parsed

    def _show(self, safe: str) -> str:
        # A prefix's stripped text is a prefix of the whole's: it only grows.
        visible = safe.strip()
        piece, self._shown = visible[len(self._shown) :], visible
        return piece

    def _possible_marker_start(self) -> int:
        """Length of the longest end of the text that could begin a marker."""
        for size in range(min(len(self._text), max(map(len, MARKERS))), 0, -1):
            if any(marker.startswith(self._text[-size:]) for marker in MARKERS):
                return size
        return 0
