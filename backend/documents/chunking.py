"""Structure-aware chunking: sections, then paragraphs, then sentences, to a token budget."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from pydantic import BaseModel, Field

from backend.documents.blocks import Block, Chunk

TokenCounter = Callable[[Sequence[str]], list[int]]

SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


class ChunkingConfig(BaseModel):
    """Sizes are in the embedder's word-piece tokens; MiniLM reads at most 256."""

    target_tokens: int = Field(180, ge=16, le=240, description="Most tokens in one chunk's text.")
    overlap_tokens: int = Field(
        32, ge=0, le=120, description="Tokens of the previous chunk repeated at the start."
    )


@dataclass(frozen=True)
class _Unit:
    block: Block
    tokens: int
    origin: int  # index of the block it came from: pieces of one block join with a space


def _piece(block: Block, start: int, text: str) -> Block:
    """The part of `block` at character `start`, with its own lines and span."""
    lines = None
    if block.lines is not None:
        first = block.lines[0] + block.text.count("\n", 0, start)
        lines = (first, min(block.lines[1], first + text.count("\n")))
    span = (
        None if block.span is None else (block.span[0] + start, block.span[0] + start + len(text))
    )
    return replace(block, text=text, lines=lines, span=span)


def _pieces(block: Block, pattern: re.Pattern[str]) -> list[Block]:
    pieces, start = [], 0
    for match in pattern.finditer(block.text):
        if match.start() > start:
            pieces.append(_piece(block, start, block.text[start : match.start()]))
        start = match.end()
    if start < len(block.text):
        pieces.append(_piece(block, start, block.text[start:]))
    return pieces


def _word_windows(unit: _Unit, target: int) -> list[Block]:
    """A sentence longer than a chunk is cut into runs of words of about `target` tokens."""
    words = _pieces(unit.block, re.compile(r"\s+"))
    per_window = max(1, len(words) * target // max(unit.tokens, 1))
    windows = []
    for i in range(0, len(words), per_window):
        run = words[i : i + per_window]
        text = " ".join(w.text for w in run)
        windows.append(replace(run[0], text=text, lines=_lines(run), span=_span(run)))
    return windows


def _lines(blocks: Sequence[Block]) -> tuple[int, int] | None:
    found = [b.lines for b in blocks if b.lines is not None]
    return (found[0][0], found[-1][1]) if found else None


def _span(blocks: Sequence[Block]) -> tuple[int, int] | None:
    found = [b.span for b in blocks if b.span is not None]
    return (found[0][0], found[-1][1]) if found else None


def _units(blocks: Sequence[Block], count: TokenCounter, target: int) -> list[_Unit]:
    """Blocks small enough to pack; larger ones split by sentences, then by words."""
    units: list[_Unit] = []
    counts = count([b.text for b in blocks])
    for origin, (block, tokens) in enumerate(zip(blocks, counts, strict=True)):
        if tokens <= target:
            units.append(_Unit(block, tokens, origin))
            continue
        sentences = _pieces(block, SENTENCE_END)
        for sentence, n in zip(sentences, count([s.text for s in sentences]), strict=True):
            unit = _Unit(sentence, n, origin)
            if n <= target:
                units.append(unit)
            else:
                windows = _word_windows(unit, target)
                counted = zip(windows, count([w.text for w in windows]), strict=True)
                units.extend(_Unit(w, t, origin) for w, t in counted)
    return units


def _pack(units: list[_Unit], config: ChunkingConfig) -> Iterator[list[_Unit]]:
    """Greedy packing to the target, each chunk starting with the previous one's tail."""
    current: list[_Unit] = []
    size = 0
    for unit in units:
        if current and size + unit.tokens > config.target_tokens:
            yield current
            tail: list[_Unit] = []
            for previous in reversed(current):
                if sum(u.tokens for u in tail) + previous.tokens > config.overlap_tokens:
                    break
                tail.insert(0, previous)
            if sum(u.tokens for u in tail) + unit.tokens > config.target_tokens:
                tail = []
            current, size = tail, sum(u.tokens for u in tail)
        current.append(unit)
        size += unit.tokens
    if current:
        yield current


def chunk_blocks(
    blocks: Sequence[Block], count: TokenCounter, config: ChunkingConfig | None = None
) -> list[Chunk]:
    """Chunks never cross a section or page boundary, so each has one heading path and page."""
    config = config or ChunkingConfig()
    chunks: list[Chunk] = []
    units = _units(blocks, count, config.target_tokens)
    for (headings, page, ocr), group in itertools.groupby(
        units, key=lambda u: (u.block.headings, u.block.page, u.block.ocr)
    ):
        for packed in _pack(list(group), config):
            parts = [u.block for u in packed]
            text = packed[0].block.text
            for previous, unit in itertools.pairwise(packed):
                text += (" " if unit.origin == previous.origin else "\n\n") + unit.block.text
            chunks.append(
                Chunk(text, len(chunks), headings, page, _lines(parts), _span(parts), ocr)
            )
    return chunks
