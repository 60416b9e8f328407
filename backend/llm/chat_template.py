"""Rendering chat messages to a prompt with a GGUF's own Jinja chat template.

When a model carries no template, Hearth uses ChatML, documented here as DEFAULT_CHAT_TEMPLATE:
each message becomes `<|im_start|>{role}\\n{content}<|im_end|>\\n`, and the prompt ends with
`<|im_start|>assistant\\n` so the model writes the reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from backend.errors import InvalidRequestError

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


@lru_cache(maxsize=8)
def _compile(source: str) -> Any:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise_exception
    return env.from_string(source)


def render_chat(
    messages: Sequence[dict[str, str]],
    template: str | None,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """Render messages ({role, content}) with `template`, or ChatML when it is None."""
    try:
        return str(
            _compile(template or DEFAULT_CHAT_TEMPLATE).render(
                messages=list(messages),
                bos_token=bos_token,
                eos_token=eos_token,
                add_generation_prompt=add_generation_prompt,
            )
        )
    except TemplateError as exc:
        raise ChatTemplateError(f"the model's chat template failed: {exc}") from exc
