"""A chat reply's function calls in OpenAI's shapes: the whole message, or stream deltas.

A streamed reply's text goes out as it comes until something may be a call; the calls are read
when the reply ends and go out as OpenAI streams them: per call, one chunk with its index, id,
type, name and empty arguments, then one with the arguments, then the last chunk with
`finish_reason: "tool_calls"`.
"""

from __future__ import annotations

import json

from backend.llm import tool_calls
from backend.llm.tool_calls import CallCheck, ParsedReply, ToolCallStream, parse_reply
from backend.llm.types import ToolUse
from backend.wire import (
    AssistantMessage,
    ChatDelta,
    FunctionCall,
    FunctionCallDelta,
    ToolCall,
    ToolCallDelta,
)

TOOL_CALLS = "tool_calls"  # the finish reason of a reply that called functions


def _offered(tool_use: ToolUse) -> frozenset[str]:
    return frozenset(tool.name for tool in tool_use.tools)


def strict_check(tool_use: ToolUse) -> CallCheck | None:
    """What refuses a call to a `strict` function whose arguments break its schema: a forced
    call matches by its grammar, a call the model chose freely is checked here."""
    from jsonschema import Draft202012Validator

    validators = {
        tool.name: Draft202012Validator(tool.parameters) for tool in tool_use.tools if tool.strict
    }
    if not validators:
        return None

    def check(call: tool_calls.ToolCall) -> str | None:
        validator = validators.get(call.name)
        if validator is None:
            return None
        error = next(validator.iter_errors(json.loads(call.arguments)), None)
        return error.message if error else None

    return check


def read_reply(text: str, tool_use: ToolUse | None) -> ParsedReply:
    """The reply's content and calls; without tools it is all content."""
    if tool_use is None:
        return ParsedReply(text)
    parallel = tool_use.parallel is not False
    return parse_reply(text, _offered(tool_use), parallel, strict_check(tool_use))


def assistant_message(reply: ParsedReply) -> AssistantMessage:
    calls = [
        ToolCall(id=call.id, function=FunctionCall(name=call.name, arguments=call.arguments))
        for call in reply.calls
    ]
    return AssistantMessage(content=reply.content, tool_calls=calls or None)


def finish_reason(reply: ParsedReply, generation_reason: str) -> str:
    return TOOL_CALLS if reply.calls else generation_reason


class ToolCallDeltas:
    """The deltas of one streamed reply offered functions."""

    def __init__(self, tool_use: ToolUse) -> None:
        parallel = tool_use.parallel is not False
        self._stream = ToolCallStream(_offered(tool_use), parallel, strict_check(tool_use))
        self.reply: ParsedReply | None = None  # once the reply has ended

    def push(self, text: str) -> str:
        """The part of `text` that may be shown now."""
        return self._stream.push(text)

    def finish(self) -> list[ChatDelta]:
        """The deltas that end the reply: the rest of its content, then its calls."""
        rest, self.reply = self._stream.finish()
        deltas = [ChatDelta(content=rest)] if rest else []
        for index, call in enumerate(self.reply.calls):
            opening = FunctionCallDelta(name=call.name, arguments="")
            deltas.append(
                ChatDelta(
                    tool_calls=[
                        ToolCallDelta(index=index, id=call.id, type="function", function=opening)
                    ]
                )
            )
            arguments = FunctionCallDelta(arguments=call.arguments)
            deltas.append(ChatDelta(tool_calls=[ToolCallDelta(index=index, function=arguments)]))
        return deltas
