"""Document collections in process: parsing real files, citations, re-sync and failures."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.documents.chunking import ChunkingConfig
from backend.documents.errors import (
    CorruptDocumentError,
    DocumentPathError,
    UnknownCollectionError,
)
from backend.documents.grounding import SOURCES_PER_QUESTION, find_sources
from backend.documents.library import DocumentLibrary
from backend.documents.parsers import parse_document
from backend.documents.reranker import answers_question
from backend.documents.retrieval import Hit, reciprocal_rank_fusion
from backend.paths import HomeLayout
from backend.settings import Settings
from tests.backend.conftest import RunningBackend
from tests.backend.inprocess_cli import run_hearth, run_installed_hearth

PDF_PAGES = [
    "Chapter one covers the harbour. The ferry leaves the harbour at seven each morning.",
    "The lighthouse keeper's cat is named Biscuit and sleeps beside the great lamp.",
    "Page three lists the tide tables for the northern bay in spring.",
]
MARKDOWN = """# Operations manual

General notes about the servers.

## Backups

The backup server copies every database at 02:30 each night.
Copies are kept for ninety days.

## Monitoring

Alerts go to the on-call phone.
"""
HTML = """<html><head><title>Orchard</title><script>var SECRETSCRIPT = 1;</script></head>
<body><nav><a href="/">NAVLINK home</a></nav>
<main>
<h1>Our orchard</h1>
<p>The orchard grows quince and medlar trees along the south wall.</p>
</main>
<footer>FOOTERTEXT copyright</footer>
</body></html>
"""
CODE = '''"""Checksums for the sync tool."""


def compute_checksum(data: bytes) -> int:
    """compute_checksum uses the Adler-32 algorithm over the payload."""
    import zlib

    return zlib.adler32(data)
'''


def write_pdf(path: Path, pages: list[str]) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        pdf.drawString(72, 760, text)
        pdf.showPage()
    pdf.save()
    return path


def write_scanned_pdf(path: Path) -> Path:
    """A PDF holding only a picture of text, as a scanner makes: no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("RGB", (400, 100), "white")
    ImageDraw.Draw(image).text((10, 40), "Scanned invoice 4711", fill="black")
    pdf = canvas.Canvas(str(path))
    pdf.drawImage(ImageReader(image), 72, 600, width=400, height=100)
    pdf.showPage()
    pdf.save()
    return path


def write_docx(path: Path) -> Path:
    from docx import Document

    document = Document()
    document.add_heading("Staff handbook", level=1)
    document.add_heading("Holidays", level=2)
    document.add_paragraph("Employees receive twenty-seven days of paid leave each year.")
    document.add_heading("Travel", level=2)
    document.add_paragraph("Train tickets are booked through the office in Leeds.")
    document.save(str(path))
    return path


def make_corpus(folder: Path) -> Path:
    """The small real document set the documents tests share."""
    folder.mkdir(parents=True, exist_ok=True)
    write_pdf(folder / "guide.pdf", PDF_PAGES)
    write_docx(folder / "handbook.docx")
    (folder / "ops.md").write_text(MARKDOWN)
    (folder / "orchard.html").write_text(HTML)
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "checksum.py").write_text(CODE)
    (folder / "latin1.txt").write_bytes("Café menu: crème brûlée and gâteau.\n".encode("latin-1"))
    (folder / ".hidden.txt").write_text("The hidden file mentions HIDDENWORD.")
    (folder / "blob.bin").write_bytes(b"\x00\x01\x02binary" * 50)
    return folder


def index_corpus(home: Path, corpus: Path, name: str = "docs") -> DocumentLibrary:
    library = DocumentLibrary(HomeLayout(home).ensure(), Settings(threads=2))
    events = list(library.add(name, [corpus]))
    assert events[-1].type == "finished"
    return library


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = make_corpus(tmp_path_factory.mktemp("corpus") / "docs")
    write_scanned_pdf(folder / "scanned.pdf")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")
    return folder


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Iterator[DocumentLibrary]:
    library = index_corpus(tmp_path_factory.mktemp("home"), corpus)
    yield library
    library.close()


def top(library: DocumentLibrary, query: str, mode: str = "hybrid") -> Hit:
    hits = library.search(query, ["docs"], k=3, mode=mode)  # type: ignore[arg-type]
    assert hits, query
    return hits[0]


def test_pdf_hits_cite_their_page(indexed: DocumentLibrary, corpus: Path) -> None:
    hit = top(indexed, "What is the name of the lighthouse keeper's cat?")
    assert hit.source == str(corpus / "guide.pdf")
    assert hit.page == 2 and "Biscuit" in hit.text
    assert top(indexed, "tide tables northern bay").page == 3


def test_text_hits_cite_lines_that_hold_the_text(indexed: DocumentLibrary, corpus: Path) -> None:
    hit = top(indexed, "When does the backup server copy the databases?")
    assert hit.source == str(corpus / "ops.md")
    assert (hit.start_line, hit.end_line) == (7, 8)
    assert hit.headings == ["Operations manual", "Backups"]
    lines = (corpus / "ops.md").read_text().split("\n")
    assert "\n".join(lines[hit.start_line - 1 : hit.end_line]) == hit.text
    code = top(indexed, "compute_checksum Adler-32", mode="bm25")
    assert code.source == str(corpus / "src" / "checksum.py") and code.start_line == 1


def test_docx_keeps_headings_and_html_drops_page_furniture(indexed: DocumentLibrary) -> None:
    leave = top(indexed, "How many days of paid leave do employees get?")
    assert leave.source.endswith("handbook.docx")
    assert leave.headings == ["Staff handbook", "Holidays"] and leave.char_start is not None
    trees = top(indexed, "Which trees grow in the orchard?")
    assert trees.source.endswith("orchard.html") and trees.headings == ["Our orchard"]
    assert trees.start_line == 5
    assert indexed.search("SECRETSCRIPT NAVLINK FOOTERTEXT", ["docs"], mode="bm25") == []


def test_other_encodings_are_decoded(indexed: DocumentLibrary) -> None:
    hit = top(indexed, "crème brûlée gâteau", mode="bm25")
    assert hit.source.endswith("latin1.txt") and "crème brûlée" in hit.text


def test_every_mode_finds_the_answer(indexed: DocumentLibrary) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        assert top(indexed, "paid leave each year", mode).source.endswith("handbook.docx")
    dense = indexed.search("feline companion of the lamp keeper", ["docs"], k=1, mode="dense")
    assert dense[0].page == 2  # found by meaning, with no word in common


def test_the_reranker_scores_relevance_and_finds_nothing_for_unrelated_questions(
    indexed: DocumentLibrary,
) -> None:
    """Hybrid search reorders by hearth-rerank, whose relevance also decides "nothing found"."""
    answer = top(indexed, "What is the name of the lighthouse keeper's cat?")
    assert "Biscuit" in answer.text and answers_question(answer)
    unrelated = "Explain gluon confinement in QCD."
    hits = indexed.search(unrelated, ["docs"], k=SOURCES_PER_QUESTION)
    assert hits and all(h.relevance is not None and not answers_question(h) for h in hits)
    assert find_sources(indexed, ["docs"], unrelated) == []
    # The reranker's judgement decides: with full relevance the same passages would answer.
    assert all(answers_question(h.model_copy(update={"relevance": 1.0})) for h in hits)
    dense = indexed.search(unrelated, ["docs"], k=1, mode="dense")
    assert dense[0].relevance is None  # dense and BM25 searches are not reranked


def test_rank_fusion_rewards_agreement_and_follows_weights() -> None:
    dense, bm25 = ["a", "b", "c"], ["d", "b", "e"]
    fused = [key for key, _ in reciprocal_rank_fusion([dense, bm25])]
    assert fused[:3] == ["b", "a", "d"]  # second in both lists beats first in one
    dense_only = [key for key, _ in reciprocal_rank_fusion([dense, bm25], weights=[1.0, 0.0])]
    assert dense_only[:3] == dense
    with pytest.raises(ValueError, match="1 weights for 2 rankings"):
        reciprocal_rank_fusion([dense, bm25], weights=[1.0])


def test_failures_name_the_file_and_the_reason(indexed: DocumentLibrary, corpus: Path) -> None:
    files = {Path(f.path).name: f for f in indexed.files("docs")}
    assert files["scanned.pdf"].status == "indexed"  # its picture of text is read by OCR
    assert files["corrupt.pdf"].status == "failed" and "not a readable PDF" in (
        files["corrupt.pdf"].error or ""
    )
    assert ".hidden.txt" not in files and "blob.bin" not in files
    indexed_names = {name for name, f in files.items() if f.status == "indexed"}
    assert indexed_names == {
        "guide.pdf",
        "scanned.pdf",
        "handbook.docx",
        "ops.md",
        "orchard.html",
        "checksum.py",
        "latin1.txt",
    }
    assert indexed.search("HIDDENWORD", ["docs"], mode="bm25") == []


def test_resync_skips_unchanged_replaces_changed_and_removes_deleted(
    hearth_home: Path, tmp_path: Path
) -> None:
    corpus = make_corpus(tmp_path / "docs")
    library = index_corpus(hearth_home, corpus)
    before = library.store.all("docs")
    (corpus / "ops.md").write_text(MARKDOWN.replace("02:30", "04:45"))
    (corpus / "orchard.html").unlink()
    (corpus / "new.txt").write_text("Freshly added notes about the wind turbines.\n")
    events = {Path(e.path).name: e.type for e in library.sync("docs") if e.path}
    assert events == {
        "ops.md": "indexed",
        "orchard.html": "removed",
        "new.txt": "indexed",
        "guide.pdf": "unchanged",
        "handbook.docx": "unchanged",
        "checksum.py": "unchanged",
        "latin1.txt": "unchanged",
        "blob.bin": "skipped",
    }
    after = library.store.all("docs")
    texts = " ".join(c.text for c in after)
    assert "04:45" in texts and "02:30" not in texts and "quince" not in texts
    assert "wind turbines" in texts
    unchanged = {c.id for c in before if not c.metadata["path"].endswith(("ops.md", ".html"))}
    assert unchanged <= {c.id for c in after}
    assert len(after) == len({c.id for c in after})
    assert top(library, "when does the backup run").text.count("04:45") == 1
    assert all(
        e.type in ("planned", "unchanged", "skipped", "searchable", "finished")
        for e in library.sync("docs")
    )


def test_a_file_deleted_while_indexing_is_removed_and_the_run_goes_on(
    hearth_home: Path, tmp_path: Path
) -> None:
    corpus = make_corpus(tmp_path / "docs")
    library = index_corpus(hearth_home, corpus)
    (corpus / "ops.md").write_text(MARKDOWN.replace("02:30", "04:45"))
    (corpus / "new.txt").write_text("Freshly added notes about the wind turbines.\n")
    events = []
    for event in library.sync("docs"):
        if event.type == "planned":  # the folder was walked; both files vanish before indexing
            (corpus / "ops.md").unlink()
            (corpus / "new.txt").unlink()
        events.append(event)
    by_name = {Path(e.path).name: e for e in events if e.path}
    assert by_name["ops.md"].type == by_name["new.txt"].type == "removed"
    assert "deleted" in (by_name["ops.md"].detail or "")
    assert events[-1].type == "finished"
    assert events[-1].files_done == events[-1].files_total
    files = {Path(f.path).name for f in library.files("docs")}
    assert "ops.md" not in files and "new.txt" not in files and "guide.pdf" in files
    assert "backup" not in " ".join(c.text for c in library.store.all("docs"))
    assert "quince" in top(library, "what grows in the orchard").text


def test_an_empty_path_is_refused_not_read_as_the_working_folder(hearth_home: Path) -> None:
    library = DocumentLibrary(HomeLayout(hearth_home).ensure(), Settings(threads=2))
    with pytest.raises(DocumentPathError, match="empty path"):
        library.add("here", [""])
    assert library.collections() == []
    library.close()


def test_the_server_refuses_paths_it_cannot_resolve_and_bad_names(
    backend: RunningBackend, tmp_path: Path
) -> None:
    """A relative or empty path would name the server's own working folder, not the user's."""
    folder = make_corpus(tmp_path / "docs")
    with backend.http() as http:
        for name, paths, code in (
            ("empty", [""], "path_not_found"),
            ("relative", ["."], "path_not_found"),
            ("newline\n", [str(folder)], "invalid_collection_name"),
        ):
            body = {"name": name, "paths": paths, "stream": True}
            with http.stream("POST", "/hearth/documents/collections", json=body) as response:
                assert response.status_code == 400, name  # before any indexing starts
                assert json.loads(response.read())["error"]["code"] == code
        assert http.get("/hearth/documents/collections").json() == []


def test_remove_deletes_the_collection(hearth_home: Path, tmp_path: Path) -> None:
    library = index_corpus(hearth_home, make_corpus(tmp_path / "docs"), "gone")
    library.remove("gone")
    assert library.collections() == []
    with pytest.raises(UnknownCollectionError):
        library.search("anything", ["gone"])


def test_long_sections_split_within_budget_with_overlap(hearth_home: Path, tmp_path: Path) -> None:
    sentences = [f"Fact {i} says the river {i} is {i * 3} km long." for i in range(120)]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "rivers.md").write_text("# Rivers\n\n" + " ".join(sentences) + "\n")
    library = index_corpus(hearth_home, tmp_path / "docs")
    chunks = sorted(library.store.all("docs"), key=lambda c: c.metadata["chunk_index"])
    config = ChunkingConfig()
    tokens = library.embedder.count_tokens([c.text for c in chunks])
    assert len(chunks) > 3 and max(tokens) <= config.target_tokens
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk.text.split(". ")[0] in previous.text  # the overlap repeats a sentence
        assert chunk.metadata["headings"] == "Rivers"
    joined = " ".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)


def test_cli_add_search_list_remove(tmp_path: Path, hearth_home: Path) -> None:
    corpus = make_corpus(tmp_path / "docs")
    added = run_json("docs", "add", str(corpus), "--collection", "notes", "--json")
    assert added["indexed"] == 6 and added["collection"]["files"] == 6
    found = run_json(
        "docs", "search", "lighthouse cat", "--collection", "notes", "--k", "2", "--json"
    )
    assert found[0]["source"] == str(corpus / "guide.pdf") and found[0]["page"] == 2
    assert set(found[0]) >= {"source", "page", "start_line", "end_line", "text", "score"}
    assert [c["name"] for c in run_json("docs", "list", "--json")] == ["notes"]
    assert run_hearth("docs", "remove", "notes").code == 0
    assert run_json("docs", "list", "--json") == []
    # once through the installed command, so that `hearth docs`'s entry point stays covered
    missing = run_installed_hearth("docs", "sync", "notes")
    assert missing.code == 1 and "No document collection named 'notes'" in missing.err


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (["search", "q", "--collection", "notes", "--k", "0"], "--k: must be at least 1, not 0"),
        (
            ["add", ".", "--collection", "notes", "--max-size", "0"],
            "--max-size: must be more than 0",
        ),
        (
            ["add", ".", "--collection", "notes", "--max-size", "-1"],
            "--max-size: must be more than 0",
        ),
    ],
)
def test_cli_refuses_impossible_numbers(arguments: list[str], problem: str) -> None:
    result = run_hearth("docs", *arguments)
    assert result.code == 2 and problem in result.err
    assert "Traceback" not in result.err


def run_json(*args: str) -> Any:
    result = run_hearth(*args)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_rst_csv_and_json_keep_their_structure(tmp_path: Path) -> None:
    rst = tmp_path / "guide.rst"
    rst.write_text("=====\nGuide\n=====\n\nIntro.\n\nInstall\n-------\n\nRun the installer.\n")
    assert [(b.headings, b.lines) for b in parse_document(rst)] == [
        (("Guide",), (5, 5)),
        (("Guide", "Install"), (10, 10)),
    ]
    table = tmp_path / "prices.csv"
    table.write_text('item,price\napple,3\n"pear, green",4\n')
    assert [(b.text, b.lines) for b in parse_document(table)] == [
        ("item: apple, price: 3", (2, 2)),
        ("item: pear, green, price: 4", (3, 3)),
    ]
    data = tmp_path / "config.json"
    data.write_text('{\n  "name": "hearth",\n\n  "port": 8080\n}\n')
    assert [b.lines for b in parse_document(data)] == [(1, 2), (4, 5)]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.json", b'{"open": ', "not valid JSON"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "not a readable DOCX"),
        ("empty.pdf", b"", "not a readable PDF"),
    ],
)
def test_broken_files_raise_a_specific_error(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorruptDocumentError, match=reason):
        parse_document(path)


def test_a_closed_progress_stream_stops_the_run_and_frees_the_collection(
    hearth_home: Path, tmp_path: Path
) -> None:
    """The GUI pauses indexing by closing the stream; a later sync must run, not wait forever
    on the write lock of the abandoned run, and must finish the index."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from backend.server.routes.documents import _sse
    from backend.sse import decode_events

    library = DocumentLibrary(HomeLayout(hearth_home).ensure(), Settings(threads=2))
    folder = make_corpus(tmp_path / "docs")

    async def first_event_then_disconnect() -> str:
        stream = _sse(library.add("paused", [folder]))
        first = await anext(stream)
        await stream.aclose()
        return first

    (first,) = decode_events(asyncio.run(first_event_then_disconnect()).splitlines())
    assert first.type == "planned"
    with ThreadPoolExecutor(1) as pool:
        events = pool.submit(lambda: list(library.sync("paused"))).result(timeout=120)
    assert events[-1].type == "finished"
    assert events[-1].files_done == events[-1].files_total > 0
    assert library.collection("paused").chunks > 0
    library.close()
