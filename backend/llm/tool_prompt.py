"""Putting functions, calls and their results into a prompt, for any chat template.

A template that knows tools (it mentions `tools`, as Qwen's, Llama 3.1's, Hermes' and Mistral's
do) receives them as Hugging Face transformers passes them: `tools` as OpenAI's function list,
assistant messages with `tool_calls` (arguments as objects), and `tool` messages.

Any other template gets Hearth's fallback prompt, plain text every template can hold: the system
prompt gains a section that lists the functions as JSON and asks for each call as
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`; an earlier call is written back the
same way in its assistant message, and results come back as a user message of
`<tool_response name="...">...</tool_response>` blocks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from backend.llm.tool_calls import HERMES_CLOSE, HERMES_OPEN, MISTRAL_MARK
from backend.llm.types import PromptMessage, ToolCallRecord, ToolUse

FALLBACK_TOOLS_HEADER = """# Tools

You can call functions to help answer. Each one is described below as JSON, with its \
parameters as a JSON Schema:
{functions}

To call a function, reply with only this, and nothing else:
<tool_call>{{"name": "<function name>", "arguments": {{<the arguments as a JSON object>}}}}\
</tool_call>
{how_many} Its result comes back to you in a <tool_response> block; then answer the user."""

MANY_CALLS = "Write one <tool_call> line per call when you need several."
ONE_CALL = "Call at most one function in a reply."


def supports_tools(template: str | None) -> bool:
    """Whether a chat template renders functions itself (it reads the `tools` variable)."""
    return template is not None and "tools" in template


def _arguments(call: ToolCallRecord) -> Any:
    """The arguments as an object, as templates expect; text that is not JSON stays text."""
    try:
        return json.loads(call["function"]["arguments"])
    except ValueError:
        return call["function"]["arguments"]


def _names_by_call_id(messages: Sequence[PromptMessage]) -> dict[str, str]:
    return {
        call["id"]: call["function"]["name"]
        for message in messages
        for call in message.get("tool_calls", [])
    }


def mistral_call_id(call_id: str) -> str:
    """Mistral's templates refuse any call id but 9 letters and digits; the same id always
    maps to the same one, so a result still names its call."""
    return hashlib.sha256(call_id.encode()).hexdigest()[:9]


def template_messages(messages: Sequence[PromptMessage], template: str) -> list[dict[str, Any]]:
    """Messages as a tool-aware template takes them: arguments as objects, results named (and
    call ids as Mistral's templates want them)."""
    names = _names_by_call_id(messages)
    ids = mistral_call_id if MISTRAL_MARK in template else str
    shaped: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = dict(message)
        if "tool_calls" in message:
            item["tool_calls"] = [
                {
                    **call,
                    "id": ids(call["id"]),
                    "function": {**call["function"], "arguments": _arguments(call)},
                }
                for call in message["tool_calls"]
            ]
        if message["role"] == "tool":
            call_id = message.get("tool_call_id", "")
            item["tool_call_id"] = ids(call_id)
            item.setdefault("name", names.get(call_id, ""))
        shaped.append(item)
    return shaped


def _call_text(call: ToolCallRecord) -> str:
    body = {"name": call["function"]["name"], "arguments": _arguments(call)}
    return f"{HERMES_OPEN}{json.dumps(body, ensure_ascii=False)}{HERMES_CLOSE}"


def _result_text(message: PromptMessage, names: dict[str, str]) -> str:
    name = message.get("name") or names.get(message.get("tool_call_id", ""), "")
    return f'<tool_response name="{name}">\n{message["content"]}\n</tool_response>'


def fallback_messages(messages: Sequence[PromptMessage]) -> list[PromptMessage]:
    """Calls and results as plain user and assistant text; consecutive results share one
    user message, so templates that want turns to alternate still render."""
    names = _names_by_call_id(messages)
    plain: list[PromptMessage] = []
    previous = ""
    for message in messages:
        if message["role"] == "tool":
            result = _result_text(message, names)
            if previous == "tool":
                plain[-1]["content"] += "\n" + result
            else:
                plain.append({"role": "user", "content": result})
        elif "tool_calls" in message:
            calls = [_call_text(call) for call in message["tool_calls"]]
            text = "\n".join(part for part in [message["content"], *calls] if part)
            plain.append({"role": "assistant", "content": text})
        else:
            plain.append({"role": message["role"], "content": message["content"]})
        previous = message["role"]
    return plain


def fallback_tools_section(tool_use: ToolUse) -> str:
    functions = "\n".join(
        json.dumps(tool.as_openai()["function"], ensure_ascii=False) for tool in tool_use.tools
    )
    how_many = ONE_CALL if tool_use.parallel is False else MANY_CALLS
    section = FALLBACK_TOOLS_HEADER.format(functions=functions, how_many=how_many)
    if tool_use.function is not None:
        section += f"\nCall the function {tool_use.function} now."
    elif tool_use.required:
        section += "\nCall one of these functions now."
    return section


def with_tools_section(messages: list[PromptMessage], tool_use: ToolUse) -> list[PromptMessage]:
    """The fallback section added to the system prompt, or as one when there is none."""
    section = fallback_tools_section(tool_use)
    if messages and messages[0]["role"] == "system":
        first: PromptMessage = {
            "role": "system",
            "content": f"{messages[0]['content']}\n\n{section}",
        }
        return [first, *messages[1:]]
    return [{"role": "system", "content": section}, *messages]
