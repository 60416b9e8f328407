"""The retrieval dev set: questions generated from document structure, for choosing only.

bench/rag_eval.py chooses fusion, candidate depth, chunking and the reranker cut-off on these
questions, never on its evaluation sets. So the dev set is drawn from Debian documentation
packages that neither evaluation set uses (the FAQ set's perl-doc, python3.11-doc, debian-faq,
sqlite3-doc and git-doc; the own set's bash-doc, asymptote-doc and diffutils-doc).

Each question is read off the structure of a page as Hearth's own parsers extract it:
- `man`: a manual page's NAME line ("open and possibly create a file") -> its DESCRIPTION.
  The NAME section is left out of the indexed page, as the FAQ set leaves out its questions.
- `glossary`: a glossary term -> its definition ("What is a queryset?").
- `question`: a question-shaped heading ("Why does this project exist?") -> its section.
- `heading`: a section heading of three words or more -> the section's first paragraph.

A hit answers when it comes from the expected file and holds most of the expected passage
(the start of the answer), as in the own set. The corpus (the question files and other pages
of the same packages, about 2,500 chunks) is rebuilt from the packages by `build_corpus`;
only the questions are kept in the repository, in bench/rag_dev_questions.json:

    .venv/bin/python bench/make_dev_set.py [--docs data/rag_docs]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from backend.documents.blocks import Block
from backend.documents.parsers import parse_document

QUESTIONS = Path(__file__).with_name("rag_dev_questions.json")
SEED = 16
PACKAGES = {
    "manpages": "6.03-2",
    "manpages-dev": "6.03-2",
    "debian-reference-en": "2.100",
    "debian-handbook": "11.20220922",
    "apt-doc": "2.6.1",
    "sphinx-doc": "5.3.0-4",
    "python-django-doc": "3:3.2.25-0+deb12u3",
    "developers-reference": "12.18",
}
DJANGO = "usr/share/doc/python-django-doc/html"
SPHINX = "usr/share/doc/sphinx-doc/html"


@dataclass(frozen=True)
class Source:
    """Pages of one package: those always indexed, then others drawn up to a text budget."""

    package: str
    always: tuple[str, ...]
    pool: tuple[str, ...]
    budget_chars: int


SOURCES = (
    Source("manpages", (), ("usr/share/man/man[1457]/*.gz",), 80_000),
    Source("manpages-dev", (), ("usr/share/man/man[23]/*.gz",), 160_000),
    Source("debian-reference-en", (), ("usr/share/debian-reference/*.en.html",), 150_000),
    Source(
        "debian-handbook",
        (),
        ("usr/share/doc/debian-handbook/html/en-US/*.html",),
        150_000,
    ),
    Source("apt-doc", ("usr/share/doc/apt-doc/guide.html/*.html",), (), 0),
    Source(
        "sphinx-doc",
        (f"{SPHINX}/glossary.html", f"{SPHINX}/faq.html"),
        (f"{SPHINX}/usage/**/*.html", f"{SPHINX}/tutorial/*.html"),
        100_000,
    ),
    Source(
        "python-django-doc",
        (f"{DJANGO}/glossary.html", f"{DJANGO}/faq/*.html"),
        (f"{DJANGO}/topics/**/*.html", f"{DJANGO}/howto/*.html"),
        150_000,
    ),
    Source("developers-reference", (), ("usr/share/developers-reference/*.html",), 100_000),
)
SKIPPED_PAGES = ("index", "genindex", "search", "contents", "changes", "copyright", "legalnotice")
# Page furniture the HTML reader keeps: no question is read off these sections.
FURNITURE = {
    "Navigation", "Site navigation", "On this page", "Table of Contents", "Previous topic",
    "Next topic", "Last update:", "Quick search", "This Page", "Related Topics", "Contents",
    "Browse", "List of Tables", "List of Figures", "List of Examples",
}  # fmt: skip
GENERIC = {"see also", "for more information", "further reading", "example", "examples"}
PASSAGE_CHARS = 200  # the start of the answer a hit must hold most of
MIN_PASSAGE_CHARS = 60
MIN_WORDS, MAX_WORDS = 3, 14
QUOTAS = {"man": 130, "glossary": 60, "question": 110, "heading": 230}
PER_FILE = {"man": 1, "glossary": 20, "question": 15, "heading": 4}


@dataclass(frozen=True)
class DevQuestion:
    id: int
    kind: str
    question: str
    package: str
    file: str
    passage: str


# --- the corpus ---


def fetch_packages(root: Path, packages: dict[str, str]) -> None:
    """Each package unpacked under root/pkg/NAME, downloaded with apt-get the first time."""
    debs = root / "debs"
    for name, version in packages.items():
        target = root / "pkg" / name
        if target.is_dir():
            continue
        debs.mkdir(parents=True, exist_ok=True)
        command = ["apt-get", "download", f"{name}={version}"]
        print("fetching:", " ".join(command))
        if subprocess.run(command, cwd=debs).returncode != 0:
            raise SystemExit(f"could not download {name}; run `{' '.join(command)}` in {debs}")
        deb = next(debs.glob(f"{name}_*.deb"))
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)


MAN_SECTION = re.compile(r"^[A-Z][A-Z0-9 ,/-]*$")


def man_to_markdown(page: Path) -> tuple[str, str] | None:
    """A manual page rendered by groff as Markdown (sections as headings, NAME left out), and
    its NAME line's description; None for a page that only points at another (.so)."""
    source = gzip.decompress(page.read_bytes())
    if source.lstrip().startswith(b".so "):
        return None
    rendered = subprocess.run(
        ["groff", "-man", "-Tutf8", "-P-cbou", "-rLL=100n", "-rHY=0"],
        input=source,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8", "replace")
    lines = rendered.splitlines()[1:-1]  # the running header and footer
    out, section, name = [f"# {page.name.removesuffix('.gz')}"], "", []
    for line in lines:
        if MAN_SECTION.match(line):
            section = line.strip()
            if section != "NAME":
                out += ["", f"## {section}", ""]
        elif section == "NAME":
            name.append(line.strip())
        else:
            out.append(re.sub(r"^(\s*)#", r"\1\\#", line.strip()))  # '#include' is no heading
    described = " ".join(" ".join(name).partition(" - ")[2].split())
    return "\n".join(out) + "\n", described.replace("\u2010", "-")


def text_size(path: Path) -> int:
    try:
        return sum(len(b.text) for b in parse_document(path))
    except Exception:  # a page the parser cannot read is simply not drawn
        return 0


def place(package_root: Path, relative: str, corpus: Path, package: str) -> Path | None:
    """The page copied (or, for a manual page, rendered) into the corpus; None if empty."""
    source = package_root / relative
    if source.suffix == ".gz":
        rendered = man_to_markdown(source)
        if rendered is None:
            return None
        target = corpus / package / (relative.removesuffix(".gz") + ".md")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rendered[0])
        target.with_suffix(".name").write_text(rendered[1])
        return target
    target = corpus / package / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def matching(root: Path, patterns: Sequence[str]) -> list[str]:
    found = {
        str(p.relative_to(root))
        for pattern in patterns
        for p in root.glob(pattern)
        if p.is_file() and not p.is_symlink() and p.stem.split(".")[0] not in SKIPPED_PAGES
    }
    return sorted(found)


def build_corpus(docs: Path, corpus: Path) -> None:
    """The dev corpus under corpus/PACKAGE/...: the same pages every time (a seeded draw)."""
    if corpus.is_dir():
        return
    fetch_packages(docs, PACKAGES)
    staging = corpus.with_name(corpus.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    rng = random.Random(SEED)
    for source in SOURCES:
        root = docs / "pkg" / source.package
        for relative in matching(root, source.always):
            place(root, relative, staging, source.package)
        pool = [r for r in matching(root, source.pool) if r not in source.always]
        rng.shuffle(pool)
        used = 0
        for relative in pool:
            if used >= source.budget_chars:
                break
            placed = place(root, relative, staging, source.package)
            if placed is None:
                continue
            size = text_size(placed)
            if not size or size > source.budget_chars // 4:  # empty, or most of the budget
                placed.unlink()
                placed.with_suffix(".name").unlink(missing_ok=True)
                continue
            used += size
    staging.rename(corpus)


def corpus_pages(corpus: Path) -> Iterator[tuple[str, str, Path]]:
    """(package, file relative to the package folder, path) of every indexed page."""
    for path in sorted(corpus.rglob("*")):
        if path.is_file() and path.suffix != ".name":
            package = path.relative_to(corpus).parts[0]
            yield package, str(path.relative_to(corpus / package)), path


# --- the questions ---


def clean_heading(heading: str) -> str:
    text = " ".join(heading.replace("\u00b6", " ").split())
    return re.sub(r"^(Chapter|Appendix)?\s*[0-9A-Z]{0,3}(\.[0-9]+)*\.?\s+(?=\S)", "", text)


NOT_PROSE = re.compile(r"^(\d+(\.\d+)+\.? |(Example|Table|Figure) \d)")
MIN_LETTER_SHARE = 0.75


def passage_of(text: str) -> str | None:
    """The start of an answer, cut at a word boundary; None when too short to tell apart, or
    not prose (a table of contents, a caption, program output)."""
    words = " ".join(text.split())
    if len(words) < MIN_PASSAGE_CHARS or len(words.split()) < 8 or NOT_PROSE.match(words):
        return None
    if sum(c.isalpha() or c == " " for c in words) < MIN_LETTER_SHARE * len(words):
        return None
    if len(words) <= PASSAGE_CHARS:
        return words
    return words[:PASSAGE_CHARS].rsplit(" ", 1)[0]


def sections(blocks: Sequence[Block]) -> Iterator[tuple[tuple[str, ...], list[Block]]]:
    current: list[Block] = []
    for block in blocks:
        if current and block.headings != current[0].headings:
            yield current[0].headings, current
            current = []
        current.append(block)
    if current:
        yield current[0].headings, current


def first_passage(blocks: Sequence[Block]) -> str | None:
    return next((p for b in blocks if (p := passage_of(b.text))), None)


def glossary_entries(blocks: Sequence[Block]) -> Iterator[tuple[str, str]]:
    """(term, definition) pairs: Sphinx writes each term as its own short block ending in ¶."""
    for term, definition in zip(blocks, blocks[1:], strict=False):
        if term.text.endswith("\u00b6") and not definition.text.endswith("\u00b6"):
            passage = passage_of(definition.text) or (
                " ".join(definition.text.split()) if len(definition.text) >= 30 else None
            )
            if passage:
                yield clean_heading(term.text), passage


def page_candidates(package: str, file: str, path: Path) -> Iterator[tuple[str, str, str]]:
    """(kind, question, passage) read off one page's structure."""
    blocks = parse_document(path)
    if path.suffix == ".md":
        described = path.with_suffix(".name").read_text().strip()
        body = [b for b in blocks if b.headings[-1:] == ("DESCRIPTION",)]
        passage = first_passage(body)
        if passage and len(described.split()) >= MIN_WORDS:
            yield "man", described, passage
        return
    if path.stem == "glossary":
        for term, definition in glossary_entries(blocks):
            yield "glossary", f"What is {term}?", definition
        return
    for headings, body in sections(blocks):
        if not headings or FURNITURE.intersection(clean_heading(h) for h in headings):
            continue
        heading = clean_heading(headings[-1])
        words = len(heading.split())
        passage = first_passage(body)
        if passage is None or not MIN_WORDS <= words <= MAX_WORDS:
            continue
        if heading.lower() in GENERIC:
            continue
        yield ("question" if heading.endswith("?") else "heading"), heading, passage


def generate(corpus: Path) -> list[DevQuestion]:
    """A seeded draw of each kind's quota, a few per page, no question asked twice."""
    by_kind: dict[str, list[tuple[str, str, str, str]]] = {kind: [] for kind in QUOTAS}
    for package, file, path in corpus_pages(corpus):
        taken: dict[str, int] = {}
        for kind, question, passage in page_candidates(package, file, path):
            taken[kind] = taken.get(kind, 0) + 1
            if taken[kind] <= PER_FILE[kind]:
                by_kind[kind].append((question, package, file, passage))
    seen = {}
    for found in by_kind.values():
        for question, *_ in found:
            seen[question.lower()] = seen.get(question.lower(), 0) + 1
    rng = random.Random(SEED)
    chosen: list[DevQuestion] = []
    for kind, found in by_kind.items():
        unique = [f for f in found if seen[f[0].lower()] == 1]
        for question, package, file, passage in rng.sample(unique, min(QUOTAS[kind], len(unique))):
            chosen.append(DevQuestion(len(chosen) + 1, kind, question, package, file, passage))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=Path, default=Path("data/rag_docs"), help="package cache")
    parser.add_argument("--corpus", type=Path, default=Path("data/rag_eval/dev/corpus"))
    args = parser.parse_args()
    build_corpus(args.docs, args.corpus)
    questions = generate(args.corpus)
    counts = {kind: sum(q.kind == kind for q in questions) for kind in QUOTAS}
    payload = {"packages": PACKAGES, "seed": SEED, "questions": [asdict(q) for q in questions]}
    QUESTIONS.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(questions)} questions {counts} -> {QUESTIONS}")


if __name__ == "__main__":
    main()
