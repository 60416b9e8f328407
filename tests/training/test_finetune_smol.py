"""hearth-smol's examples: the backend's own prompts, right citations, honest refusals, and
evaluation questions only from documents training never saw."""

from __future__ import annotations

import json
import re
from pathlib import Path

from backend.documents.grounding import INSTRUCTION
from training.finetune_data import read_conversations
from training.smol.dataset import Mix, build_smol_dataset
from training.smol.facts import is_heldout
from training.smol.voice import REFUSAL


def write_texts(root: Path) -> Path:
    """Manual pages in PostgreSQL's shape and WordNet-style glosses, all invented."""
    pages = root / "postgresql-doc-15"
    pages.mkdir(parents=True)
    for page in range(40):
        lines = [f"53.{page}. pg_thing{page}", f"The catalog pg_thing{page} stores things."]
        for column in range(6):
            lines += [f"col{page}_{column} oid", f"Identifier number {column} of thing {page}."]
        (pages / f"{page:05d}.txt").write_text("\n".join(lines) + "\n")
    words = root / "wordnet-base"
    words.mkdir()
    for part in range(4):
        glosses = [
            f'word{part}x{i}: a made up meaning number {i} of part {part}; "used here"'
            for i in range(200)
        ]
        (words / f"{part:05d}.txt").write_text("\n".join(glosses) + "\n")
    return root


def test_examples_match_serving_and_cite_the_right_source(tmp_path: Path) -> None:
    mixes = (Mix(60, 20, 5, 5), Mix(6, 2, 1, 1), Mix(12, 6, 0, 0))
    train, heldout, evaluation = build_smol_dataset(
        write_texts(tmp_path / "text"), tmp_path / "out", mixes=mixes
    )
    conversations = read_conversations(train)
    assert len(conversations) == 90 and len(read_conversations(heldout)) == 10
    grounded = [c for c in conversations if c[0]["content"].startswith(INSTRUCTION)]
    assert len(grounded) == 80
    for user, assistant in grounded:
        sources = dict(
            re.findall(r"\[(\d+)\] \S+, lines \d+-\d+\n(.*?)(?=\n\n)", user["content"], re.DOTALL)
        )
        subject = re.search(r"(col\d+_\d+|word\dx\d+)", user["content"].split("Question:")[1])
        assert sources and subject
        cited = re.findall(r"\[(\d+)\]", assistant["content"])
        if assistant["content"].startswith(REFUSAL):
            assert not cited and not any(subject[0] in text for text in sources.values())
        else:
            assert len(cited) == 1 and subject[0] in sources[cited[0]]
    records = [json.loads(line) for line in evaluation.read_text().splitlines()]
    assert sum(r["gold"] > 0 for r in records) == 12 and sum(r["gold"] == 0 for r in records) == 6
    # Evaluation questions come from held-out pages only.
    for record in records:
        page = re.search(r"pg_thing(\d+)\?|word(\d)x(\d+)", record["messages"][0]["content"])
        if page and page[1]:
            assert is_heldout(f"{int(page[1]):05d}.txt")
