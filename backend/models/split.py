"""Split GGUF models (`name-00001-of-00003.gguf`): one model in several files, which llama.cpp
loads from the first; listed once, under the name without the part number, with every part's
size and parameters counted."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from backend.models.gguf_info import GgufInfo, InvalidGgufError

PART = re.compile(r"(?P<stem>.+)-(?P<part>\d{5})-of-(?P<total>\d{5})", re.IGNORECASE)


def unsplit_stem(path: Path) -> str:
    part = PART.fullmatch(path.stem)
    return part["stem"] if part else path.stem


def is_later_part(path: Path) -> bool:
    part = PART.fullmatch(path.stem)
    return part is not None and int(part["part"]) != 1


def other_parts(first: Path) -> list[Path]:
    """The parts after `first` of the model it begins, or [] for a model in one file."""
    part = PART.fullmatch(first.stem)
    if part is None:
        return []
    total, digits = int(part["total"]), len(part["part"])
    return [
        first.with_name(f"{part['stem']}-{n:0{digits}d}-of-{part['total']}{first.suffix}")
        for n in range(2, total + 1)
    ]


def missing_part(first: Path, part: Path) -> InvalidGgufError:
    return InvalidGgufError(f"{first} begins a split model, but its part {part.name} is missing")


def whole_model(first: GgufInfo, others: list[GgufInfo]) -> GgufInfo:
    """The first part's metadata with the size and parameters of all the parts."""
    return replace(
        first,
        file_size=first.file_size + sum(info.file_size for info in others),
        parameter_count=first.parameter_count + sum(info.parameter_count for info in others),
    )
