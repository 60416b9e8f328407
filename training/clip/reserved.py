"""Picture sets reserved for an independent evaluation of hearth-clip-tiny: never trained on.

Twemoji, OpenMoji and Symbola (Debian's fonts-symbola, which ttf-ancient-fonts pulls in) draw the
same concepts as our training sets in other styles; a model that has seen them could no longer
be measured on them. Every package fetched and every file written into a dataset is checked.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

RESERVED_WORDS = ("twemoji", "openmoji", "symbola")
RESERVED_PACKAGES = frozenset({"ttf-ancient-fonts", "fonts-ancient-scripts"})


class ReservedDataError(ValueError):
    """A package or file from a set reserved for evaluation was about to enter training data."""


def refuse_reserved_package(package: str) -> None:
    name = package.split("=")[0].split(":")[0].lower()
    if name in RESERVED_PACKAGES or any(word in name for word in RESERVED_WORDS):
        raise ReservedDataError(
            f"package {package} holds Twemoji, OpenMoji or Symbola, which are reserved for "
            "evaluation and never used for training"
        )


def refuse_reserved_path(path: PurePath | str) -> None:
    lowered = str(path).lower()
    for word in RESERVED_WORDS:
        if word in lowered:
            raise ReservedDataError(
                f"{path} looks like part of {word}, which is reserved for evaluation and never "
                "used for training"
            )


def refuse_reserved_tree(folder: Path) -> None:
    """No file or folder under `folder` (unpacked packages) may belong to a reserved set."""
    for directory, folders, files in os.walk(folder):
        for name in (*folders, *files):
            refuse_reserved_path(Path(directory, name).relative_to(folder))
