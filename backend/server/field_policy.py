"""How an OpenAI request body treats what Hearth does not act on: a null is the default, and a
field Hearth does not implement is refused by name unless its value asks for nothing more.

OpenAI's own answer to a field it does not know is a 400 naming it; Hearth does the same
(`extra="forbid"`) and, for OpenAI's fields it leaves out, says why instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic.fields import FieldInfo

from backend.errors import InvalidRequestError


class UnsupportedParameterError(InvalidRequestError):
    """The request asks, through an OpenAI field, for something Hearth does not do."""

    code = "unsupported_parameter"


def _never(_value: Any) -> bool:
    return False


@dataclass(frozen=True)
class Refusal:
    """Why a field is refused, and which of its values ask for nothing Hearth does not do
    anyway (`n: 1`, `echo: false`), so that clients which always send them still work."""

    reason: str
    harmless: Callable[[Any], bool] = _never


def only(*harmless_values: Any) -> Callable[[Any], bool]:
    return lambda value: any(value == v and type(value) is type(v) for v in harmless_values)


def without_defaults(data: dict[str, Any], fields: Mapping[str, FieldInfo]) -> dict[str, Any]:
    """OpenAI reads an explicit null as "not given" (`"temperature": null`): so does Hearth,
    for every field that has a default, and for a field it does not take, which a null asks
    nothing of (OpenAI's replies carry `"audio": null`, and clients replay them)."""
    return {
        name: value
        for name, value in data.items()
        if value is not None or (name in fields and fields[name].is_required())
    }


def refuse_unsupported(
    data: dict[str, Any], fields: Mapping[str, FieldInfo], refusals: Mapping[str, Refusal]
) -> dict[str, Any]:
    """The body without the refused fields whose values are harmless; any other value of one
    is a 400 naming it. A field the body declares is its own (someone implemented it)."""
    kept: dict[str, Any] = {}
    for name, value in data.items():
        refusal = refusals.get(name) if name not in fields else None
        if refusal is None:
            kept[name] = value
        elif value is not None and not refusal.harmless(value):
            shown = f"{value!r}" if len(repr(value)) <= 40 else "this value"
            raise UnsupportedParameterError(
                f"{name}={shown} is not supported: {refusal.reason}", param=name
            )
    return kept
