"""Rendering chat messages to a prompt with a GGUF's own Jinja chat template.

When a model carries no template, Hearth uses ChatML, documented here as DEFAULT_CHAT_TEMPLATE:
each message becomes `<|im_start|>{role}\\n{content}<|im_end|>\\n`, and the prompt ends with
`<|im_start|>assistant\\n` so the model writes the reply. Functions, calls and their results
reach the template as `backend.llm.tool_prompt` shapes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from backend.errors import InvalidRequestError
from backend.llm.tool_prompt import (
    fallback_messages,
    supports_tools,
    template_messages,
    with_tools_section,
)
from backend.llm.types import PromptMessage, ToolUse

DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


class ChatTemplateError(InvalidRequestError):
    """A model's chat template failed to render these messages."""

    code = "chat_template_failed"


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(f"the model's chat template refused these messages: {message}")


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    """Hugging Face's `tojson`, which tool templates are written for: Jinja's own escapes
    `<` and `&` for HTML and takes no `ensure_ascii`."""
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


@lru_cache(maxsize=8)
def _compile(source: str) -> Any:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise_exception
    env.filters["tojson"] = _tojson
    return env.from_string(source)


def render_chat(
    messages: Sequence[PromptMessage],
    template: str | None,
    *,
    tool_use: ToolUse | None = None,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """Render messages with `template`, or ChatML when it is None, offering `tool_use`'s
    functions in the template's own way or, when it has none, in the fallback prompt."""
    tools: list[dict[str, Any]] | None = None
    shaped: Sequence[Mapping[str, Any]]
    if template is not None and supports_tools(template):
        shaped = template_messages(messages, template)
        tools = [tool.as_openai() for tool in tool_use.tools] if tool_use else None
    else:
        plain = fallback_messages(messages)
        shaped = with_tools_section(plain, tool_use) if tool_use else plain
    try:
        return str(
            _compile(template or DEFAULT_CHAT_TEMPLATE).render(
                messages=list(shaped),
                tools=tools,
                bos_token=bos_token,
                eos_token=eos_token,
                add_generation_prompt=add_generation_prompt,
            )
        )
    except TemplateError as exc:
        raise ChatTemplateError(f"the model's chat template failed: {exc}") from exc
