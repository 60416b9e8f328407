"""Split a reply's Markdown into prose, tables and fenced code blocks, tolerating a
half-streamed fence. Tables and code are shown apart because they may be wider than the window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

FENCE = re.compile(r"^ {0,3}(```+|~~~+)\s*([\w+#.-]*)[^\n]*$")
TABLE_ROW = re.compile(r"^ {0,3}\|")


@dataclass(frozen=True)
class Block:
    kind: Literal["prose", "table", "code"]
    text: str
    language: str = ""


def split_blocks(markdown: str) -> list[Block]:
    """Prose and code in order; an unclosed fence (still streaming) runs to the end as code."""
    blocks: list[Block] = []
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
