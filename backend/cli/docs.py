"""`hearth docs`: document collections, through the running backend or else in this process."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from backend.cli.arguments import positive_float, positive_int
from backend.cli.output import print_json

if TYPE_CHECKING:
    from backend.documents.retrieval import Hit, SearchMode
    from backend.documents.search_results import SearchResults
    from backend.wire import CollectionInfo, IngestEvent


class Documents(Protocol):
    """What the CLI needs, served by the backend (HearthClient.documents) or in this process
    (DocumentLibrary)."""

    def collections(self) -> list[CollectionInfo]: ...

    def collection(self, name: str) -> CollectionInfo: ...

    def add(
        self,
        name: str,
        paths: Sequence[str | Path],
        max_file_bytes: int | None = None,
        ocr: bool | None = None,
    ) -> Iterator[IngestEvent]: ...

    def sync(self, name: str, max_file_bytes: int | None = None) -> Iterator[IngestEvent]: ...

    def remove(self, name: str) -> None: ...

    def search(
        self, query: str, collections: Sequence[str], k: int = 5, mode: SearchMode = "hybrid"
    ) -> list[Hit]: ...

    def search_results(
        self, query: str, collections: Sequence[str], k: int = 5, mode: SearchMode = "hybrid"
    ) -> SearchResults: ...

    def close(self) -> None: ...


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("docs", help="index folders of documents and search them")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add files or folders to a collection and index them")
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.add_argument("--collection", required=True, help="collection name (created if new)")
    add.add_argument(
        "--max-size", type=positive_float, default=50, help="skip files over this many MB"
    )
    add.add_argument(
        "--ocr",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read scanned pages and pictures by OCR (on for a new collection; --no-ocr "
        "switches it off for this collection)",
    )
    add.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    add.set_defaults(handler=add_documents)

    listing = actions.add_parser("list", help="collections with their file and chunk counts")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=list_collections)

    remove = actions.add_parser("remove", help="delete a collection's index (files stay)")
    remove.add_argument("name")
    remove.set_defaults(handler=remove_collection)

    sync = actions.add_parser("sync", help="re-read a collection's folders: changes only")
    sync.add_argument("name")
    sync.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    sync.set_defaults(handler=sync_collection)

    search = actions.add_parser("search", help="the passages that best match a query")
    search.add_argument("query")
    search.add_argument("--collection", required=True, action="append", help="repeatable")
    search.add_argument("--k", type=positive_int, default=5, help="how many passages (default 5)")
    search.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.set_defaults(handler=search_documents)


def _documents() -> Documents:
    """The running backend's documents if one is serving (it owns the Chroma store then),
    else the library in this process."""
    from backend.discovery import load_or_create_token, read_backend_info
    from backend.paths import HomeLayout

    layout = HomeLayout.current().ensure()
    info = read_backend_info(layout)
    if info is not None:
        from backend.client import HearthClient

        return HearthClient(info.url, load_or_create_token(layout)).documents
    from backend.documents.library import DocumentLibrary
    from backend.settings import Settings

    return DocumentLibrary(layout, Settings.load(layout))


@dataclass
class IndexSummary:
    """What one indexing run did, as `hearth docs add` and `sync` report it."""

    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    no_text: int = 0  # pictures in which OCR found no text: left out, not a problem
    chunks: int = 0
    embedded: int = 0  # chunks given their vector (phase two)
    problems: list[dict[str, str | None]] = field(default_factory=list)  # path, status, reason


def _follow(events: Iterator[IngestEvent], quiet: bool) -> IndexSummary:
    """Drive an indexing run with a progress bar, files while chunks are stored, then chunks
    while they are embedded; return the counts and the problems."""
    from tqdm import tqdm

    steps: Counter[str] = Counter()
    summary = IndexSummary()
    with tqdm(unit="file", desc="reading", disable=quiet, leave=False) as bar:
        for event in events:
            if not quiet:
                _show(bar, event, embedding=steps["embedded"] > 0)
            steps[event.type] += 1
            if event.type in ("failed", "skipped"):
                problem = {"path": event.path, "status": event.type, "reason": event.detail}
                summary.problems.append(problem)
                if not quiet:
                    bar.write(f"{event.type}: {event.path}: {event.detail}")
            if event.type == "searchable" and not quiet:
                bar.write(f"{event.collection}: searchable by keywords now")
            summary.chunks, summary.embedded = event.chunks_done, event.chunks_embedded
    summary.indexed, summary.unchanged = steps["indexed"], steps["unchanged"]
    summary.removed, summary.no_text = steps["removed"], steps["no_text"]
    return summary


def _show(bar: Any, event: IngestEvent, embedding: bool) -> None:
    """Files read in phase one; chunks embedded in phase two."""
    if event.type == "embedded":
        if not embedding:  # the first batch of vectors: the bar counts chunks from now on
            bar.reset(total=event.chunks_to_embed)
            bar.unit = "chunk"
            bar.set_description("embedding", refresh=False)
        bar.n = event.chunks_embedded
    elif event.phase == "parse":
        bar.total, bar.n = event.files_total, event.files_done
        # while OCR reads a scan, the page it is on
        page = {"page": f"{event.pages_done}/{event.pages_total}"} if event.type == "page" else {}
        bar.set_postfix(chunks=event.chunks_done, refresh=False, **page)
    bar.refresh()


def _report(documents: Documents, name: str, events: Iterator[IngestEvent], as_json: bool) -> int:
    summary = _follow(events, quiet=as_json)
    collection = documents.collection(name)
    if as_json:
        print_json({"collection": collection.model_dump()} | asdict(summary))
    else:
        print(
            f"{name}: {summary.indexed} indexed, {summary.unchanged} unchanged, "
            f"{summary.removed} removed, {len(summary.problems)} not indexed, "
            f"{summary.no_text} pictures without text; "
            f"{collection.files} files, {collection.chunks} chunks in all, "
            f"{summary.embedded} embedded now"
        )
    return 0


def add_documents(args: argparse.Namespace) -> int:
    max_bytes = int(args.max_size * 1_000_000)
    with closing(_documents()) as documents:
        events = documents.add(args.collection, args.paths, max_bytes, args.ocr)
        return _report(documents, args.collection, events, args.json)


def sync_collection(args: argparse.Namespace) -> int:
    with closing(_documents()) as documents:
        return _report(documents, args.name, documents.sync(args.name), args.json)


def list_collections(args: argparse.Namespace) -> int:
    with closing(_documents()) as documents:
        collections = [c.model_dump() for c in documents.collections()]
    if args.json:
        print_json(collections)
        return 0
    if not collections:
        print("No collections yet. Add one with: hearth docs add FOLDER --collection NAME")
    for c in collections:
        print(f"{c['name']:<24} {c['files']:6} files {c['chunks']:8} chunks {c['failed']:4} failed")
    return 0


def remove_collection(args: argparse.Namespace) -> int:
    with closing(_documents()) as documents:
        documents.remove(args.name)
    print(f"removed collection {args.name}")
    return 0


def search_documents(args: argparse.Namespace) -> int:
    with closing(_documents()) as documents:
        found = documents.search_results(args.query, args.collection, args.k, args.mode)
    if args.json:
        print_json([h.model_dump() for h in found.hits])
        return 0
    from backend.wire import place_label

    if found.dense.embedded < found.dense.chunks and args.mode != "bm25":
        print(
            f"dense: {found.dense.label}; passages without a vector yet are found by "
            "keywords (BM25) only"
        )
    for n, hit in enumerate(found.hits, start=1):
        where = place_label(hit.source, hit.page, hit.start_line, hit.end_line)
        where += " (text read by OCR)" if hit.ocr else ""
        print(f"[{n}] {hit.score:.3f}  {where}\n    {hit.text[:200].replace(chr(10), ' ')}")
    return 0
