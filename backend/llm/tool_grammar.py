"""Grammars that force a reply to be a function call in the model's own format.

`tool_choice: "required"` or a named function makes the reply a call whatever the model would
write: its arguments parse and match the function's parameter schema, because llama.cpp's
JSON-Schema converter builds their rules and every sampled token must keep within them. The
wrapper around them is the format the model's chat template teaches (see `format_for`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from backend.errors import InvalidRequestError
from backend.llm.grammar import UnsupportedSchemaError, check_schema, strict_json_strings
from backend.llm.tool_calls import HERMES_CLOSE, HERMES_OPEN, MISTRAL_ARGS, MISTRAL_MARK
from backend.llm.tool_prompt import supports_tools
from backend.llm.types import ChatRequest, ToolSpec, ToolUse


class ParallelCallsUnsupportedError(InvalidRequestError):
    """The model's call format holds one call per reply, and the request asked for several."""

    code = "parallel_tool_calls_unsupported"


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _json_call(key: str) -> Callable[[str, str], str]:
    """`{"name": "<name>", "<key>": <arguments>}` as GBNF."""

    def rule(name: str, arguments: str) -> str:
        head = _literal(f'{{"name": {json.dumps(name)}, "{key}": ')
        return f'{head} {arguments} "}}"'

    return rule


@dataclass(frozen=True)
class CallFormat:
    """How one model family writes calls, as grammar rules around each call."""

    name: str
    call: Callable[[str, str], str]  # (function name, its arguments' rule) -> one call's rule
    one: str  # the reply with exactly one call, from the rule `tool-call`
    several: str | None  # the reply with one or more calls; None: the format holds only one


_HERMES_BLOCK = f'{_literal(HERMES_OPEN)} "\\n"? tool-call "\\n"? {_literal(HERMES_CLOSE)}'
HERMES = CallFormat(
    "hermes", _json_call("arguments"), _HERMES_BLOCK, f'{_HERMES_BLOCK} ("\\n" {_HERMES_BLOCK})*'
)
LLAMA3 = CallFormat("llama3", _json_call("parameters"), "tool-call", None)
MISTRAL = CallFormat(
    "mistral",
    _json_call("arguments"),
    f'{_literal(MISTRAL_MARK + "[")} tool-call "]"',
    f'{_literal(MISTRAL_MARK + "[")} tool-call (", " tool-call)* "]"',
)
MISTRAL_NAMED_ARGS = CallFormat(
    "mistral-args",
    lambda name, arguments: f"{_literal(MISTRAL_MARK + name + MISTRAL_ARGS)} {arguments}",
    "tool-call",
    "tool-call+",
)


def format_for(template: str | None) -> CallFormat:
    """The call format a chat template teaches its model; Hermes tags (which the fallback prompt
    asks for too) when it teaches none Hearth knows."""
    if not supports_tools(template):
        return HERMES
    source = template or ""
    if MISTRAL_MARK in source:
        return MISTRAL_NAMED_ARGS if MISTRAL_ARGS in source else MISTRAL
    if HERMES_OPEN in source:
        return HERMES
    if "<|python_tag|>" in source or "ipython" in source:
        return LLAMA3
    return HERMES


def check_tools(tools: Sequence[ToolSpec]) -> None:
    """Refuse, naming it, a parameter schema a grammar could not enforce."""
    for index, tool in enumerate(tools):
        try:
            check_schema(tool.parameters)
        except UnsupportedSchemaError as exc:
            where = f"tools[{index}].function.parameters"
            raise UnsupportedSchemaError(f"{where}: {exc}", param=where) from exc


def allows_parallel(call_format: CallFormat, tool_use: ToolUse) -> bool:
    """Whether a forced reply may hold several calls: only when parallel_tool_calls is true,
    so that a grammar never lets a reply run on from call to call; refuses that request where
    the format holds one call."""
    if tool_use.parallel and call_format.several is None:
        raise ParallelCallsUnsupportedError(
            f"this model writes one function call per reply ({call_format.name} format); "
            "set parallel_tool_calls to false",
            param="parallel_tool_calls",
        )
    return tool_use.parallel is True


def tool_call_grammar(tool_use: ToolUse, call_format: CallFormat) -> str:
    """GBNF for a reply that is only calls, in `call_format`, to the functions it must choose
    from (`tool_use.forced`)."""
    from llama_cpp.llama_grammar import SchemaConverter

    converter = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    calls = []
    for index, tool in enumerate(tool_use.forced):
        try:  # each schema's local $refs resolve within it, under its own prefix
            parameters = converter.resolve_refs(copy.deepcopy(tool.parameters), f"tool{index}")
            arguments = converter.visit(parameters, f"arguments-{index}")
        except (AssertionError, ValueError, KeyError, TypeError) as exc:
            raise UnsupportedSchemaError(
                f"the parameters of '{tool.name}' cannot be turned into a grammar: {exc}"
            ) from exc
        calls.append(call_format.call(tool.name, arguments))
    several = allows_parallel(call_format, tool_use)
    root = call_format.several if several and call_format.several else call_format.one
    rules = [f"root ::= {root}", f"tool-call ::= {' | '.join(calls)}"]
    return "\n".join([*rules, strict_json_strings(converter.format_grammar())])


def settle_tool_use(request: ChatRequest, template: str | None) -> ChatRequest:
    """The request for a model with this chat template: parallel calls refused where its format
    cannot hold them and, when a call is forced, the grammar that forces it (in place of a
    response_format's, which a reply that is only calls has no content for)."""
    tool_use = request.tool_use
    if tool_use is None:
        return request
    call_format = format_for(template)
    allows_parallel(call_format, tool_use)  # refused here, before any output
    if not tool_use.forced:
        return request
    params = replace(request.params, grammar=tool_call_grammar(tool_use, call_format))
    return replace(request, params=params)
