"""Keeping a model card's file table true: `python -m training.model_card models/NAME`.

Rewrites everything after the card's `## Files` heading with each shipped file's size and
sha256; tests/test_model_cards.py checks the table against the files.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

HEADING = "## Files"


def file_table(folder: Path) -> str:
    rows = ["| file | bytes | sha256 |", "|---|---|---|"]
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name != "MODEL_CARD.md"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        rows.append(f"| `{path.name}` | {path.stat().st_size:,} | `{digest}` |")
    return "\n".join(rows) + "\n"


def update_card(folder: Path) -> Path:
    card = folder / "MODEL_CARD.md"
    text = card.read_text(encoding="utf-8")
    head = text.split(f"\n{HEADING}\n")[0].rstrip()
    card.write_text(f"{head}\n\n{HEADING}\n\n{file_table(folder)}", encoding="utf-8")
    return card


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(update_card(Path(argument)))
