"""Split a reply's Markdown into a reasoning model's thoughts, prose, tables and fenced code
blocks, tolerating a half-streamed fence or thought. Tables and code are shown apart because
they may be wider than the window; thoughts, because they are shown collapsed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from backend.llm.thoughts import CLOSE, OPEN

FENCE = re.compile(r"^ {0,3}(```+|~~~+)\s*([\w+#.-]*)[^\n]*$")
TABLE_ROW = re.compile(r"^ {0,3}\|")


@dataclass(frozen=True)
class Block:
    kind: Literal["prose", "table", "code", "thoughts"]
    text: str
    language: str = ""
    finished: bool = True  # False for thoughts still streaming


def leading_thoughts(markdown: str) -> tuple[Block | None, str]:
    """The reply's opening <think>…</think> as a block, and the rest. A template may open the
    block in the prompt, so a closing tag with no opening one ends thoughts too."""
    stripped = markdown.lstrip()
    if stripped.startswith(OPEN):
        body = stripped[len(OPEN) :]
        if CLOSE not in body:
            return Block("thoughts", body.strip(), finished=False), ""
    elif CLOSE in markdown and OPEN not in markdown:
        body = markdown
    else:
        return None, markdown
    thought, rest = body.split(CLOSE, 1)
    return Block("thoughts", thought.strip()), rest


def split_blocks(markdown: str) -> list[Block]:
    """Thoughts first, then prose and code in order; an unclosed fence (still streaming) runs
    to the end as code."""
    thoughts, markdown = leading_thoughts(markdown)
    blocks: list[Block] = [thoughts] if thoughts else []
    prose: list[str] = []
    code: list[str] = []
    fence = ""
    language = ""
    for line in markdown.split("\n"):
        match = FENCE.match(line)
        if not fence and match:
            _flush_prose(blocks, prose)
            fence, language = match.group(1), match.group(2)
        elif fence and _closes(line, fence):
            blocks.append(Block("code", "\n".join(code), language))
            code, fence = [], ""
        elif fence:
            code.append(line)
        else:
            prose.append(line)
    if fence:
        blocks.append(Block("code", "\n".join(code), language))
    _flush_prose(blocks, prose)
    return blocks


def _closes(line: str, fence: str) -> bool:
    """A closing fence: only the opening fence's character, at least as many of them."""
    bare = line.strip()
    return len(bare) >= len(fence) and not bare.strip(fence[0])


def _flush_prose(blocks: list[Block], lines: list[str]) -> None:
    """Runs of table rows become table blocks; the lines between them, prose blocks."""
    run: list[str] = []
    in_table = False
    for line in [*lines, ""]:  # the empty line ends a table that ends the text
        is_row = bool(TABLE_ROW.match(line))
        if is_row != in_table:
            _add_text(blocks, "table" if in_table else "prose", run)
            run, in_table = [], is_row
        run.append(line)
    _add_text(blocks, "table" if in_table else "prose", run)
    lines.clear()


def _add_text(blocks: list[Block], kind: Literal["prose", "table"], lines: list[str]) -> None:
    text = "\n".join(lines).strip("\n")
    if text.strip():
        blocks.append(Block(kind, text))
