"""Indexing one collection in two phases: plan against the ingest state, parse and store the
chunks in batches (searchable by BM25 at once), then fill in their vectors (embedding_fill)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from backend.documents.blocks import Block, Chunk
from backend.documents.chunking import ChunkingConfig, chunk_blocks
from backend.documents.embedding_fill import ChunkStoreSource, fill_vectors
from backend.documents.errors import DocumentError
from backend.documents.limits import DocumentLimits
from backend.documents.ocr_pages import PageRead
from backend.documents.parsers import is_picture, map_steps, parse_document_steps
from backend.documents.retrieval import HEADING_SEPARATOR
from backend.documents.sources import FoundFile, display_path, find_files, utf8_text
from backend.documents.state import ChunkRow, FileRecord, IngestState
from backend.embeddings.minilm import sha256_of
from backend.wire import IngestEvent, IngestPhase, IngestStep

if TYPE_CHECKING:
    from backend.embeddings.minilm import MiniLmEmbedder


class IngestConfig(BaseModel):
    """How a collection is read and indexed."""

    max_file_bytes: int = Field(50_000_000, ge=1, description="Larger files are skipped.")
    batch_chunks: int = Field(
        64, ge=1, description="Chunks stored, and later embedded, together (several small files)."
    )
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    limits: DocumentLimits = Field(
        default_factory=DocumentLimits, description="What one file may cost to read."
    )


@dataclass
class _Prepared:
    record: FileRecord
    chunks: list[Chunk] = field(default_factory=list)


def chunk_id(path: str, content_hash: str, index: int) -> str:
    """Deterministic, so re-indexing the same file version overwrites instead of duplicating.
    A name that is not UTF-8 hashes by its exact bytes (surrogateescape)."""
    key = f"{path}\0{content_hash}\0{index}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(key).hexdigest()[:32]


def file_key(path: str) -> tuple[str, str]:
    """The chunk metadata field and value that tell a file's chunks apart from other files'.
    Chroma keeps UTF-8 text only, so a name that is not valid UTF-8 is kept as the hex of its
    exact bytes in `path_bytes`: in `path` (what citations show) two such names can look alike."""
    shown = display_path(path)
    return ("path", path) if shown == path else ("path_bytes", os.fsencode(path).hex())


def chunk_metadata(record: FileRecord, chunk: Chunk) -> dict[str, Any]:
    key_field, key = file_key(record.path)
    found = {
        "path": display_path(record.path),
        "path_bytes": key if key_field == "path_bytes" else None,
        "content_hash": record.content_hash,
        "chunk_index": chunk.index,
        "page": chunk.page,
        "start_line": chunk.lines[0] if chunk.lines else None,
        "end_line": chunk.lines[1] if chunk.lines else None,
        "char_start": chunk.span[0] if chunk.span else None,
        "char_end": chunk.span[1] if chunk.span else None,
        "headings": HEADING_SEPARATOR.join(chunk.headings) or None,
        "ocr": True if chunk.ocr else None,  # its text was read by OCR from a picture
    }
    return {k: v for k, v in found.items() if v is not None}  # Chroma stores no nulls


def chunk_rows(record: FileRecord, chunks: list[Chunk]) -> list[ChunkRow]:
    return [
        ChunkRow(
            chunk_id(record.path, record.content_hash, c.index),
            record.path,
            c.index,
            c.text,
            chunk_metadata(record, c),
        )
        for c in chunks
    ]


class IngestRun:
    """One pass over a collection's roots. Iterate it to do the work and get progress.

    Phase one parses the changed files and stores each batch's records and chunks in one
    SQLite transaction, so BM25 finds them at once ('searchable' ends it). Phase two embeds
    the chunks still without a vector and writes them to Chroma ('embedded' after each batch).

    Crash safety: a file's chunks and its 'indexed' row are written together, and a chunk is
    marked embedded only after Chroma holds its vector; vectors of replaced chunks are queued
    for deletion in the same transaction. A later run redoes exactly what was not finished;
    chunk ids are deterministic, so the result equals one clean run.
    """

    def __init__(
        self,
        name: str,
        state: IngestState,
        store: ChunkStoreSource,
        embedder: MiniLmEmbedder,
        config: IngestConfig,
    ) -> None:
        self.name, self.state, self.store = name, state, store
        self.embedder, self.config = embedder, config
        self.files_done = self.files_total = self.chunks_done = 0
        self.chunks_embedded = self.chunks_to_embed = 0
        self.phase: IngestPhase = "parse"
        self.ocr = True  # the collection's own setting, read as the run starts

    def event(self, step: IngestStep, path: str | None = None, **fields: Any) -> IngestEvent:
        return IngestEvent(
            type=step,
            collection=self.name,
            path=None if path is None else display_path(path),
            files_done=self.files_done,
            files_total=self.files_total,
            chunks_done=self.chunks_done,
            phase=self.phase,
            chunks_embedded=self.chunks_embedded,
            chunks_to_embed=self.chunks_to_embed,
            **fields,
        )

    def __iter__(self) -> Iterator[IngestEvent]:
        collection = self.state.get(self.name)
        self.ocr = collection.ocr
        found = list(find_files(collection.roots, self.config.max_file_bytes, pictures=self.ocr))
        known = self.state.files(self.name)
        self.files_total = len(found)
        yield self.event("planned")
        yield from self._remove_missing(known, {str(f.path) for f in found if not f.skipped})
        batch: list[_Prepared] = []
        for file in found:
            if file.skipped:
                self.files_done += 1
                yield self.event("skipped", str(file.path), detail=file.skipped)
                continue
            try:
                prepared = yield from self._prepare(file, known.get(str(file.path)))
            except FileNotFoundError:
                self.files_done += 1
                yield from self._forget([str(file.path)], "deleted or moved while indexing")
                continue
            if prepared is None:
                self.files_done += 1
                yield self.event("unchanged", str(file.path))
                continue
            batch.append(prepared)
            if sum(len(p.chunks) for p in batch) >= self.config.batch_chunks:
                yield from self._write(batch)
                batch = []
        yield from self._write(batch)
        yield self.event("searchable")
        yield from self._embed()
        yield self.event("finished")

    def _embed(self) -> Iterator[IngestEvent]:
        """Phase two: vectors for every chunk of the collection still without one (this run's
        and any an earlier run left), and stale vectors deleted."""
        total, embedded = self.state.chunk_counts(self.name)
        self.phase, self.chunks_to_embed = "embed", total - embedded
        for count in fill_vectors(
            self.name, self.state, self.store, self.embedder, self.config.batch_chunks
        ):
            self.chunks_embedded += count
            yield self.event("embedded")

    def _remove_missing(
        self, known: dict[str, FileRecord], present: set[str]
    ) -> Iterator[IngestEvent]:
        yield from self._forget([path for path in known if path not in present])

    def _forget(self, paths: list[str], detail: str | None = None) -> Iterator[IngestEvent]:
        if paths:
            self.state.forget(self.name, paths)
        for path in paths:
            yield self.event("removed", path, detail=detail)

    def _prepare(
        self, file: FoundFile, known: FileRecord | None
    ) -> Generator[IngestEvent, None, _Prepared | None]:
        """The file's new record and chunks, or None when it has not changed; 'page' events
        while OCR reads it.

        Raises FileNotFoundError when the file was deleted after the folder was walked.
        """
        settled = known is not None and known.status != "pending"
        if settled and known and (known.size, known.mtime_ns) == (file.size, file.mtime_ns):
            return None
        record = FileRecord(
            path=str(file.path),
            content_hash="",  # stays empty when the file cannot be read at all
            size=file.size,
            mtime_ns=file.mtime_ns,
            status="failed",
        )
        try:
            record.content_hash = sha256_of(file.path)
            if settled and known and known.content_hash == record.content_hash:
                return None
            blocks = yield from self._read(file.path)
            chunks = chunk_blocks(blocks, self.embedder.count_tokens, self.config.chunking)
        except FileNotFoundError:
            raise  # deleted since the folder was walked: not a failure, the caller forgets it
        except DocumentError as exc:
            return _Prepared(record.model_copy(update={"error": utf8_text(str(exc))}))
        except Exception as exc:  # a parser library choking on a strange file fails that file only
            error = utf8_text(f"could not be read ({type(exc).__name__}: {exc})")  # names the path
            return _Prepared(record.model_copy(update={"error": error}))
        if not chunks and is_picture(file.path):  # a photo: nothing to index, and no failure
            return _Prepared(record.model_copy(update={"status": "indexed"}))
        if not chunks:
            return _Prepared(record.model_copy(update={"error": "no text to index"}))
        return _Prepared(
            record.model_copy(update={"status": "indexed", "chunks": len(chunks)}), chunks
        )

    def _read(self, path: Path) -> Generator[IngestEvent, None, list[Block]]:
        """The file's blocks; a 'page' event after each page OCR reads, where a closed run
        stops (Pause), so a long scan is never read to its end first."""

        def page_event(page: PageRead) -> IngestEvent:
            return self.event("page", str(path), pages_done=page.done, pages_total=page.total)

        steps = parse_document_steps(path, self.ocr, self.config.limits)
        return (yield from map_steps(steps, page_event))

    def _write(self, batch: list[_Prepared]) -> Iterator[IngestEvent]:
        if not batch:
            return
        self.state.replace_files(
            self.name, [(p.record, chunk_rows(p.record, p.chunks)) for p in batch]
        )
        for p in batch:
            self.files_done += 1
            self.chunks_done += len(p.chunks)
            step: IngestStep = "indexed" if p.record.status == "indexed" else "failed"
            if step == "indexed" and not p.chunks:
                step = "no_text"
            yield self.event(step, p.record.path, detail=p.record.error, chunks=len(p.chunks))
