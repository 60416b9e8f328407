"""Retrieval quality on the FAQ development set: recall@k and MRR for dense, BM25 and hybrid.

Indexes each FAQ answer (without its question) as its own file, together with distractor
pages from the same Debian documentation packages, through Hearth's real pipeline (parsers,
chunker, Chroma, BM25); then asks every question. A question scores when a chunk of its
answer's file comes back. The set is for evaluation only: never train on it.

The distractor pages are not in the repository. Unpack the packages once, offline after that:

    apt-get download python3.11-doc perl-doc sqlite3-doc git-doc
    for f in *.deb; do dpkg-deb -x "$f" DOCS; done
    .venv/bin/python bench/rag_eval.py --docs DOCS/usr/share [--per-package 20]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from backend.documents.library import DocumentLibrary
from backend.documents.retrieval import SearchMode
from backend.paths import HomeLayout
from backend.settings import Settings

DATA = Path("/work/shared/data/faq_qa.json")
MODES: tuple[SearchMode, ...] = ("dense", "bm25", "hybrid")
# Where each package keeps its other pages, and the FAQ pages themselves, left out.
DISTRACTORS = {
    "python": ("doc/python3.11/html", "**/*.html", ("faq/",)),
    "perl": ("perl/5.36.0/pod", "*.pod", ("perlfaq",)),
    "sqlite": ("doc/sqlite3", "*.html", ("faq.html",)),
    "git": ("doc/git-doc", "*.html", ("gitfaq",)),
}
MAX_DISTRACTOR_BYTES = 60_000


def pick_distractors(docs: Path, per_package: int, rng: random.Random) -> list[Path]:
    chosen: list[Path] = []
    for folder, pattern, excluded in DISTRACTORS.values():
        pages = sorted(
            p
            for p in (docs / folder).glob(pattern)
            if p.stat().st_size <= MAX_DISTRACTOR_BYTES
            and not any(e in str(p.relative_to(docs / folder)) for e in excluded)
        )
        chosen += rng.sample(pages, min(per_package, len(pages)))
    return chosen


def build_folder(root: Path, pairs: list[dict[str, str]], distractors: list[Path]) -> Path:
    folder = root / "corpus"
    (folder / "answers").mkdir(parents=True)
    (folder / "distractors").mkdir()
    for i, pair in enumerate(pairs):
        (folder / "answers" / f"{i:04d}.txt").write_text(pair["answer"] + "\n")
    for i, page in enumerate(distractors):
        shutil.copy(page, folder / "distractors" / f"{i:04d}-{page.name}")
    return folder


def evaluate(library: DocumentLibrary, pairs: list[dict[str, str]], mode: SearchMode) -> str:
    recall_at = {1: 0, 5: 0, 10: 0}
    reciprocal = 0.0
    started = time.perf_counter()
    for i, pair in enumerate(pairs):
        hits = library.search(pair["question"], ["faq"], k=10, mode=mode)
        ranks = [r for r, h in enumerate(hits, start=1) if h.source.endswith(f"/{i:04d}.txt")]
        if ranks:
            reciprocal += 1 / ranks[0]
            for k in recall_at:
                recall_at[k] += ranks[0] <= k
    n = len(pairs)
    per_query = (time.perf_counter() - started) / n * 1000
    recalls = "  ".join(f"recall@{k} {v / n:.3f}" for k, v in recall_at.items())
    return f"{mode:<7} {recalls}  MRR@10 {reciprocal / n:.3f}  ({per_query:.0f} ms/query)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, required=True, help="unpacked usr/share folder")
    parser.add_argument("--per-package", type=int, default=20, help="distractor pages each")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    pairs = json.loads(DATA.read_text())
    distractors = pick_distractors(args.docs, args.per_package, random.Random(0))
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_folder(Path(tmp), pairs, distractors)
        library = DocumentLibrary(HomeLayout(Path(tmp) / "home").ensure(), Settings(threads=2))
        started = time.perf_counter()
        finished = list(library.add("faq", [folder]))[-1]
        collection = library.collections()[0]
        print(
            f"indexed {len(pairs)} answers + {len(distractors)} distractor pages: "
            f"{collection.chunks} chunks in {time.perf_counter() - started:.0f} s "
            f"({finished.files_done} files, {collection.failed} failed)"
        )
        for mode in MODES:
            print(evaluate(library, pairs, mode))
        library.close()


if __name__ == "__main__":
    main()
