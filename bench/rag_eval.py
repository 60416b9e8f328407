"""Retrieval quality on two sets: recall@1/5 and MRR@10 for dense, BM25 and hybrid search.

Both sets go through Hearth's real pipeline (parsers, chunker, Chroma, BM25).

- `faq`: the shared FAQ set. Each answer (without its question) is indexed as its own file,
  with distractor pages from the same Debian packages; a question scores when a chunk of its
  answer's file comes back. It is for evaluation only: never train or tune on it.
- `own`: bench/rag_questions.json, questions written for this bench over Debian documentation
  in its original formats (PDF, HTML, Markdown, text, shell code). A question scores when a
  chunk of the expected file, on the expected page for a PDF, holds the expected passage.
  Its `dev` half may be used to choose retrieval parameters (`--sweep`); `test` is held out.

The documents are not in the repository. The own set fetches its packages into --own-docs
with `apt-get download` and `dpkg-deb -x` on first use. For the FAQ set, once:

    apt-get download python3.11-doc perl-doc sqlite3-doc git-doc
    for f in *.deb; do dpkg-deb -x "$f" DOCS; done
    .venv/bin/python bench/rag_eval.py --set faq --docs DOCS/usr/share [--per-package 30]
    .venv/bin/python bench/rag_eval.py --set own [--split test] [--sweep]
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import json
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.documents.library import CANDIDATES, DocumentLibrary
from backend.documents.parsers import parse_document
from backend.documents.retrieval import RRF_K, Hit, reciprocal_rank_fusion
from backend.paths import HomeLayout
from backend.settings import Settings

FAQ_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faq_qa.json"  # ../shared
OWN_DATA = Path(__file__).with_name("rag_questions.json")
# Where each package keeps its other pages, and the FAQ pages themselves, left out.
DISTRACTORS = {
    "python": ("doc/python3.11/html", "**/*.html", ("faq/",)),
    "perl": ("perl/5.36.0/pod", "*.pod", ("perlfaq",)),
    "sqlite": ("doc/sqlite3", "*.html", ("faq.html",)),
    "git": ("doc/git-doc", "*.html", ("gitfaq",)),
}
MAX_DISTRACTOR_BYTES = 60_000
DEPTH = 10  # hits scored per question: recall@1, recall@5 and MRR@10 all come from these
# A chunk cut inside the passage still counts when it holds most of it.
MIN_PASSAGE_OVERLAP = 0.5
SWEEP_BM25_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0)
SWEEP_RRF_K = (1, 2, 5, 10, 20, 60)
BEFORE_RRF_K = 60  # the fusion Hearth shipped before RRF_K was chosen on the dev split


def normalised(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Question:
    """One question with the test that tells a correct hit from a wrong one."""

    text: str
    is_answer: Callable[[Hit], bool]


@dataclass
class Candidates:
    """What dense, BM25 and hybrid search returned for one question; other fusions are
    recomputed from the dense and BM25 candidates, as deep as the library fuses them."""

    dense: list[Hit]
    bm25: list[Hit]
    hybrid: list[Hit]

    def fused(self, weights: tuple[float, float], k: int) -> list[Hit]:
        by_id = {h.chunk_id: h for h in itertools.chain(self.dense, self.bm25)}
        ranked = reciprocal_rank_fusion(
            [[h.chunk_id for h in self.dense], [h.chunk_id for h in self.bm25]], weights, k
        )
        return [by_id[key] for key, _ in ranked[:DEPTH]]


@dataclass(frozen=True)
class Scores:
    recall_1: float
    recall_5: float
    mrr_10: float

    @classmethod
    def of(cls, questions: Sequence[Question], results: Sequence[list[Hit]]) -> Scores:
        ranks = []
        for question, hits in zip(questions, results, strict=True):
            found = [r for r, h in enumerate(hits[:DEPTH], start=1) if question.is_answer(h)]
            ranks.append(found[0] if found else None)
        n = len(questions)
        return cls(
            sum(r is not None and r <= 1 for r in ranks) / n,
            sum(r is not None and r <= 5 for r in ranks) / n,
            sum(1 / r for r in ranks if r is not None) / n,
        )

    def row(self, label: str) -> str:
        return f"| {label} | {self.recall_1:.3f} | {self.recall_5:.3f} | {self.mrr_10:.3f} |"


def gather(
    library: DocumentLibrary, collection: str, questions: list[Question]
) -> list[Candidates]:
    """Each mode's results for every question, dense and BM25 as deep as hybrid fuses them."""
    return [
        Candidates(
            library.search(q.text, [collection], k=CANDIDATES, mode="dense"),
            library.search(q.text, [collection], k=CANDIDATES, mode="bm25"),
            library.search(q.text, [collection], k=DEPTH, mode="hybrid"),
        )
        for q in questions
    ]


def report(title: str, questions: list[Question], candidates: list[Candidates]) -> None:
    rows = [
        ("dense", [c.dense for c in candidates]),
        ("BM25", [c.bm25 for c in candidates]),
        (
            f"hybrid, RRF k={BEFORE_RRF_K} (before)",
            [c.fused((1, 1), BEFORE_RRF_K) for c in candidates],
        ),
        (f"hybrid, RRF k={RRF_K} (shipped)", [c.hybrid for c in candidates]),
    ]
    print(f"\n{title} ({len(questions)} questions)\n")
    print("| mode | recall@1 | recall@5 | MRR@10 |\n|---|---|---|---|")
    for label, results in rows:
        print(Scores.of(questions, results).row(label))
    in_top_5 = {
        mode: [
            any(q.is_answer(h) for h in hits[:5]) for q, hits in zip(questions, found, strict=True)
        ]
        for mode, found in (("dense", rows[0][1]), ("bm25", rows[1][1]), ("hybrid", rows[3][1]))
    }
    dense, bm25, hybrid = in_top_5["dense"], in_top_5["bm25"], in_top_5["hybrid"]
    either = sum(d or b for d, b in zip(dense, bm25, strict=True))
    gained = sum(h and not d for d, h in zip(dense, hybrid, strict=True))
    lost = sum(d and not h for d, h in zip(dense, hybrid, strict=True))
    print(
        f"\nin the top 5: dense or BM25 {either}, hybrid {sum(hybrid)}; hybrid finds {gained} "
        f"that dense misses and misses {lost} that dense finds"
    )


def sweep(questions: list[Question], candidates: list[Candidates]) -> None:
    """Recall@5 / MRR@10 of weighted RRF over BM25 weight and k, for choosing on dev only."""
    print(f"\nsweep on {len(questions)} questions: recall@5 / MRR@10, dense weight 1")
    print("| BM25 weight | " + " | ".join(f"k={k}" for k in SWEEP_RRF_K) + " |")
    print("|---" * (len(SWEEP_RRF_K) + 1) + "|")
    for weight in SWEEP_BM25_WEIGHTS:
        cells = []
        for k in SWEEP_RRF_K:
            s = Scores.of(questions, [c.fused((1.0, weight), k) for c in candidates])
            cells.append(f"{s.recall_5:.3f} / {s.mrr_10:.3f}")
        print(f"| {weight:g} | " + " | ".join(cells) + " |")


def index(root: Path, name: str, folder: Path, threads: int) -> DocumentLibrary:
    library = DocumentLibrary(HomeLayout(root / "home").ensure(), Settings(threads=threads))
    started = time.perf_counter()
    finished = list(library.add(name, [folder]))[-1]
    info = library.collections()[0]
    print(
        f"indexed {finished.files_done} files: {info.chunks} chunks in "
        f"{time.perf_counter() - started:.0f} s ({info.failed} failed)"
    )
    return library


# --- the FAQ set ---


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


def build_faq_folder(root: Path, pairs: list[dict[str, str]], distractors: list[Path]) -> Path:
    folder = root / "corpus"
    if folder.is_dir():
        return folder  # unchanged files are skipped by the re-sync, so the index is reused
    (folder / "answers").mkdir(parents=True)
    (folder / "distractors").mkdir()
    for i, pair in enumerate(pairs):
        (folder / "answers" / f"{i:04d}.txt").write_text(pair["answer"] + "\n")
    for i, page in enumerate(distractors):
        shutil.copy(page, folder / "distractors" / f"{i:04d}-{page.name}")
    return folder


def faq_question(i: int, pair: dict[str, str]) -> Question:
    return Question(pair["question"], lambda hit: hit.source.endswith(f"/{i:04d}.txt"))


def run_faq(args: argparse.Namespace) -> None:
    if args.docs is None:
        raise SystemExit("--set faq needs --docs (the unpacked usr/share folder, see --help)")
    pairs = json.loads(FAQ_DATA.read_text())
    distractors = pick_distractors(args.docs, args.per_package, random.Random(0))
    questions = [faq_question(i, pair) for i, pair in enumerate(pairs)]
    root = args.cache / f"faq-{args.per_package}"
    folder = build_faq_folder(root, pairs, distractors)
    print(f"\nFAQ set: {len(pairs)} answers + {len(distractors)} distractor pages")
    library = index(root, "faq", folder, args.threads)
    candidates = gather(library, "faq", questions)
    library.close()
    report("FAQ set", questions, candidates)


# --- the own set ---


def fetch_packages(root: Path, packages: dict[str, dict[str, str]]) -> None:
    """Each package unpacked under root/pkg/NAME, downloaded with apt-get the first time."""
    debs = root / "debs"
    for name, info in packages.items():
        target = root / "pkg" / name
        if target.is_dir():
            continue
        debs.mkdir(parents=True, exist_ok=True)
        command = ["apt-get", "download", f"{name}={info['version']}"]
        print("fetching:", " ".join(command))
        if subprocess.run(command, cwd=debs).returncode != 0:
            raise SystemExit(f"could not download {name}; run `{' '.join(command)}` in {debs}")
        deb = next(debs.glob(f"{name}_*.deb"))
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)


def corpus_files(root: Path, spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(package, path relative to the package root) of every file the set indexes."""
    for package, patterns in spec["corpus"].items():
        base = root / "pkg" / package
        for pattern in patterns:
            for path in sorted(base.glob(pattern)):
                if path.is_file() and path.suffix not in spec["excluded_suffixes"]:
                    yield package, str(path.relative_to(base))


def page_text(path: Path, page: int | None) -> str:
    return normalised(" ".join(b.text for b in parse_document(path) if page in (None, b.page)))


def check_passages(folder: Path, entries: list[dict[str, Any]]) -> None:
    """Every expected passage is where the question says, in the text Hearth extracts."""
    places = [(e, e["file"], e["page"]) for e in entries]
    places += [(e, file, None) for e in entries for file in e["also_in"]]
    wrong = [
        f"#{e['id']} {file} page {page}: {e['passage']!r}"
        for e, file, page in places
        if normalised(e["passage"]) not in page_text(folder / e["package"] / file, page)
    ]
    if wrong:
        raise SystemExit("passages not found where expected:\n" + "\n".join(wrong))


def own_question(entry: dict[str, Any]) -> Question:
    expected = f"/{entry['package']}/{entry['file']}"
    elsewhere = tuple(f"/{entry['package']}/{f}" for f in entry["also_in"])
    passage = normalised(entry["passage"])

    def is_answer(hit: Hit) -> bool:
        right_place = hit.source.endswith(expected) and entry["page"] in (None, hit.page)
        if not (right_place or hit.source.endswith(elsewhere)):
            return False
        text = normalised(hit.text)
        if passage in text:
            return True
        match = difflib.SequenceMatcher(None, text, passage, autojunk=False).find_longest_match()
        return match.size >= MIN_PASSAGE_OVERLAP * len(passage)

    return Question(entry["question"], is_answer)


def run_own(args: argparse.Namespace) -> None:
    spec = json.loads(OWN_DATA.read_text())
    fetch_packages(args.own_docs, spec["packages"])
    entries = [e for e in spec["questions"] if args.split in ("all", e["split"])]
    root = args.cache / "own"
    folder = root / "corpus"
    for package, relative in corpus_files(args.own_docs, spec):
        (folder / package / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(args.own_docs / "pkg" / package / relative, folder / package / relative)
    check_passages(folder, spec["questions"])
    pdf = sum(e["page"] is not None for e in entries)
    print(f"\nown set, {args.split}: {len(entries)} questions ({pdf} on PDF pages)")
    library = index(root, "own", folder, args.threads)
    questions = [own_question(e) for e in entries]
    candidates = gather(library, "own", questions)
    library.close()
    report(f"own set, {args.split} split", questions, candidates)
    if args.sweep:
        if args.split != "dev":
            raise SystemExit("--sweep chooses parameters: run it with --split dev only")
        sweep(questions, candidates)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", choices=("faq", "own"), nargs="+", default=["own"])
    parser.add_argument("--docs", type=Path, help="FAQ set: unpacked usr/share folder")
    parser.add_argument("--per-package", type=int, default=30, help="FAQ distractor pages each")
    parser.add_argument(
        "--own-docs", type=Path, default=Path("data/rag_docs"), help="own set: package cache"
    )
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--sweep", action="store_true", help="own dev split: fusion parameters")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("data/rag_eval"),
        help="corpora and their indexes, kept so that later runs only re-sync",
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if "own" in args.set:
        run_own(args)
    if "faq" in args.set:
        run_faq(args)


if __name__ == "__main__":
    main()
