"""Document indexing and query speed: ingest overhead over pure embedding, and query latency.

Part 1 indexes a generated folder of Markdown files and embeds the very same chunk texts again
with the same embedder: the ratio of the two times is what parsing, chunking, hashing, Chroma
and SQLite add (target: at most 1.5x). Part 2 fills collections with N synthetic chunks (random
unit vectors: embedding 100k real chunks would take an hour here) and times searches against a
bare Chroma query on the same collection.

    .venv/bin/python bench/ingest.py [--files 200] [--sizes 10000 100000] [--queries 50]

"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from backend.documents.blocks import Chunk
from backend.documents.chunking import chunk_blocks
from backend.documents.ingest import chunk_id
from backend.documents.library import DocumentLibrary
from backend.documents.parsers import parse_document
from backend.documents.vector_store import chroma_name
from backend.paths import HomeLayout
from backend.settings import Settings
from backend.wire import FileRecord

WORDS = [
    *("river", "harbour", "engine", "garden", "ledger", "signal", "market", "winter"),
    *("copper", "archive", "lantern", "meadow", "kernel", "socket", "budget", "orchard"),
    *("tunnel", "valley", "cipher", "quarry", "beacon", "summit", "thread", "compass"),
]
QUERIES = ["when does the harbour open", "copper ledger budget", "winter garden lantern"]


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."


def make_folder(folder: Path, files: int, rng: random.Random) -> None:
    folder.mkdir(parents=True)
    for i in range(files):
        sections = [
            f"## Section {j}\n\n"
            + "\n\n".join(
                " ".join(sentence(rng) for _ in range(rng.randint(2, 6))) for _ in range(3)
            )
            for j in range(rng.randint(2, 5))
        ]
        (folder / f"doc-{i:04d}.md").write_text(f"# Document {i}\n\n" + "\n\n".join(sections))


def ingest_overhead(root: Path, files: int, threads: int) -> None:
    folder = root / "docs"
    make_folder(folder, files, random.Random(0))
    library = DocumentLibrary(HomeLayout(root / "home").ensure(), Settings(threads=threads))
    assert library.store is not None  # loads the embedder and opens Chroma before timing
    started = time.perf_counter()
    events = list(library.add("bench", [folder]))
    total = time.perf_counter() - started
    chunks: list[Chunk] = []
    for path in sorted(folder.iterdir()):
        blocks = parse_document(path)
        chunks += chunk_blocks(blocks, library.embedder.count_tokens, library.config.chunking)
    texts = [c.embedding_text() for c in chunks]
    started = time.perf_counter()
    library.embedder.embed(texts)
    embedding = time.perf_counter() - started
    done = events[-1].chunks_done
    assert done == len(chunks), (done, len(chunks))
    print(f"ingest: {files} files, {done} chunks in {total:.1f} s = {done / total:.1f} chunks/s")
    print(f"pure embedding of the same chunks: {embedding:.1f} s = {done / embedding:.1f} chunks/s")
    print(f"ingest / embedding time: {total / embedding:.2f}x (target <= 1.5x)")
    library.close()


def fill(library: DocumentLibrary, name: str, size: int, rng: np.random.Generator) -> None:
    """`size` chunks with random unit vectors and word-salad text, recorded as one file each
    thousand so BM25 and the ingest state look like a real collection."""
    library.state.ensure_collection(name, [])
    words = np.array(WORDS)
    for start in range(0, size, 1000):
        count = min(1000, size - start)
        vectors = rng.standard_normal((count, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        path, digest = f"/bench/file-{start}.md", f"{start:064x}"
        texts = [" ".join(rng.choice(words, 25)) for _ in range(count)]
        ids = [chunk_id(path, digest, i) for i in range(count)]
        meta = [{"path": path, "content_hash": digest, "chunk_index": i} for i in range(count)]
        library.store.upsert(name, ids, texts, vectors, meta)
        record = FileRecord(
            path=path, content_hash=digest, size=0, mtime_ns=0, status="indexed", chunks=count
        )
        library.state.record(name, [record])


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=20)
    return f"p50 {statistics.median(samples) * 1000:7.1f} ms  p95 {cuts[18] * 1000:7.1f} ms"


def query_latency(root: Path, sizes: list[int], queries: int, threads: int) -> None:
    library = DocumentLibrary(HomeLayout(root / "home-q").ensure(), Settings(threads=threads))
    rng = np.random.default_rng(0)
    for size in sizes:
        name = f"synthetic-{size}"
        started = time.perf_counter()
        fill(library, name, size, rng)
        print(f"\n{size} chunks (filled in {time.perf_counter() - started:.0f} s)")
        bare = library.store._client.get_collection(chroma_name(name))
        vector = library.embedder.embed([QUERIES[0]])[0]
        library.search(QUERIES[0], [name], mode="hybrid")  # builds the BM25 index once
        timings: dict[str, list[float]] = {
            "bare chroma": [],
            "embed query": [],  # part of every mode: the similarity needs the query vector
            "dense": [],
            "bm25": [],
            "hybrid": [],
        }
        for i in range(queries):
            query = QUERIES[i % len(QUERIES)]
            started = time.perf_counter()
            bare.query(query_embeddings=vector[None, :], n_results=5)
            timings["bare chroma"].append(time.perf_counter() - started)
            started = time.perf_counter()
            library.embedder.embed([query])
            timings["embed query"].append(time.perf_counter() - started)
            for mode in ("dense", "bm25", "hybrid"):
                started = time.perf_counter()
                library.search(query, [name], k=5, mode=mode)  # type: ignore[arg-type]
                timings[mode].append(time.perf_counter() - started)
        base = statistics.median(timings["bare chroma"])
        for label, samples in timings.items():
            ratio = statistics.median(samples) / base
            print(f"  {label:<12} {percentiles(samples)}  ({ratio:.1f}x bare p50)")
    library.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200, help="0 skips the ingest part")
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.files:
            ingest_overhead(Path(tmp), args.files, args.threads)
        if args.sizes:
            query_latency(Path(tmp), args.sizes, args.queries, args.threads)


if __name__ == "__main__":
    main()
