"""Quick actions: prompt presets (Summarize, Translate to…) applied to a message, a selection,
a document or the text read from an image, and typed in the composer as `/name`.

They are data: the built-ins in quick_actions.json beside this module, the user's own in
HEARTH_HOME/quick_actions.json (the same shape; one with a built-in's name replaces it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

BUILT_IN = Path(__file__).with_name("quick_actions.json")
USER_FILE = "quick_actions.json"
COMMAND = re.compile(r"^/([a-z][a-z0-9-]*)(?:\s+|$)")


class QuickAction(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is reported, not ignored

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
    label: str = Field(min_length=1, description="As the menu shows it.")
    prompt: str = Field(description="The prompt, with {text} where the text goes.")
    argument: str | None = Field(None, description="What {argument} asks for, e.g. Language.")
    default_argument: str | None = None

    @field_validator("prompt")
    @classmethod
    def _has_text(cls, prompt: str) -> str:
        if "{text}" not in prompt:
            raise ValueError("the prompt needs {text}, where the text goes")
        return prompt

    def apply(self, text: str, argument: str | None = None) -> str:
        chosen = argument or self.default_argument or ""
        # Replaced one by one rather than with str.format, so braces in the text stay as typed.
        return self.prompt.replace("{argument}", chosen).replace("{text}", text.strip())


ACTIONS = TypeAdapter(list[QuickAction])


def load_quick_actions(home: Path) -> tuple[list[QuickAction], str | None]:
    """The built-ins with the user's own over them, and what is wrong with the user's file
    (it is then left out, never half read)."""
    actions = {a.name: a for a in ACTIONS.validate_json(BUILT_IN.read_bytes())}
    own = home / USER_FILE
    if not own.exists():
        return list(actions.values()), None
    try:
        mine = ACTIONS.validate_json(own.read_bytes())
    except (OSError, ValidationError) as exc:
        return list(actions.values()), f"{own} was not read: {_reason(exc)}"
    return list((actions | {a.name: a for a in mine}).values()), None


def expand_command(line: str, actions: list[QuickAction]) -> str | None:
    """`/name text` (or `/name argument: text` for an action that asks one) as its prompt;
    None when the line is no known command, so it is sent as typed."""
    match = COMMAND.match(line)
    found = {a.name: a for a in actions}.get(match.group(1)) if match else None
    if match is None or found is None:
        return None
    rest = line[match.end() :]
    argument = None
    if found.argument and ":" in rest.split("\n", 1)[0]:
        argument, rest = (part.strip() for part in rest.split(":", 1))
    return found.apply(rest, argument) if rest.strip() else None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)
