"""What OCR returns: lines of text with their boxes and confidence, in reading order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True)
class OcrLine:
    """One line of text as the recogniser read it; `box` is its 4 corners in image pixels."""

    text: str
    box: tuple[Point, ...]
    confidence: float

    @property
    def top(self) -> float:
        return min(y for _, y in self.box)

    @property
    def bottom(self) -> float:
        return max(y for _, y in self.box)

    @property
    def left(self) -> float:
        return min(x for x, _ in self.box)


@dataclass(frozen=True)
class OcrResult:
    """The text of one image, line by line in reading order."""

    lines: list[OcrLine]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def reading_order(lines: Iterable[OcrLine]) -> list[OcrLine]:
    """Top to bottom by row, left to right within a row.

    A line joins the row above when its vertical middle lies inside that row's band: a
    slightly rotated scan tilts boxes, so sorting by the top edge alone would shuffle the
    words of one row."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda found: (found.top + found.bottom) / 2):
        middle = (line.top + line.bottom) / 2
        row = rows[-1] if rows else None
        if row is not None and min(x.top for x in row) <= middle <= max(x.bottom for x in row):
            row.append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda found: found.left)]
