"""Ingest state in hearth.db: the collections, their folders, and what was indexed per file."""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.documents.collection_names import check_collection_name
from backend.documents.errors import UnknownCollectionError
from backend.documents.parsers import PICTURE_SUFFIXES
from backend.store.database import connect, transaction
from backend.wire import CollectionInfo, FileRecord


def _stored_path(path: str) -> str | bytes:
    """How a path is keyed in doc_files: as text, or, when the name is not valid UTF-8 (a
    surrogate-escaped str), as its exact bytes (a BLOB; the column is untyped enough in
    SQLite to hold both, so no migration). Lossless both ways."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


@dataclass(frozen=True)
class ChunkRow:
    """One chunk as phase one stores it: enough for BM25, for a hit, and to embed it later."""

    id: str
    path: str
    index: int
    text: str
    metadata: dict[str, Any]


def _chunk_row(row: sqlite3.Row) -> ChunkRow:
    stored = row["path"]
    path = os.fsdecode(stored) if isinstance(stored, bytes) else stored
    return ChunkRow(row["id"], path, row["chunk_index"], row["text"], json.loads(row["metadata"]))


def _file_record(row: sqlite3.Row) -> FileRecord:
    stored = row["path"]
    path = os.fsdecode(stored) if isinstance(stored, bytes) else stored
    return FileRecord.model_validate({k: row[k] for k in FileRecord.model_fields} | {"path": path})


class IngestState:
    """The doc_collections and doc_files tables, shared by the threads of one process."""

    def __init__(self, database: Path) -> None:
        self._conn = connect(database)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def ensure_collection(self, name: str, roots: Iterable[str]) -> CollectionInfo:
        """Create the collection, or add `roots` to it; return it."""
        check_collection_name(name)
        with self._lock, transaction(self._conn):
            row = self._conn.execute(
                "SELECT roots FROM doc_collections WHERE name = ?", (name,)
            ).fetchone()
            known = json.loads(row["roots"]) if row else []
            merged = known + [r for r in roots if r not in known]
            if row is None:
                self._conn.execute(
                    "INSERT INTO doc_collections (name, created_at, roots) VALUES (?, ?, ?)",
                    (name, time.time(), json.dumps(merged)),
                )
            else:
                self._conn.execute(
                    "UPDATE doc_collections SET roots = ? WHERE name = ?",
                    (json.dumps(merged), name),
                )
        return self.get(name)

    def get(self, name: str) -> CollectionInfo:
        found = self._select("WHERE c.name = ?", (name,))
        if not found:
            raise UnknownCollectionError(f"No document collection named {name!r}.")
        return found[0]

    def list(self) -> list[CollectionInfo]:
        return self._select("", ())

    # Below `list` (the method), annotations say `builtins.list`.
    def _select(self, where: str, params: tuple[str, ...]) -> builtins.list[CollectionInfo]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.*, COUNT(f.path) AS files,"
                " COALESCE(SUM(f.status = 'failed'), 0) AS failed,"
                " COALESCE(SUM(f.chunks), 0) AS chunks"
                f" FROM doc_collections c LEFT JOIN doc_files f ON f.collection = c.name {where}"
                " GROUP BY c.name ORDER BY c.name",
                params,
            ).fetchall()
        return [
            CollectionInfo(
                name=r["name"],
                created_at=r["created_at"],
                roots=json.loads(r["roots"]),
                revision=r["revision"],
                ocr=bool(r["ocr"]),
                files=r["files"],
                failed=r["failed"],
                chunks=r["chunks"],
            )
            for r in rows
        ]

    def set_ocr(self, name: str, enabled: bool) -> None:
        """Switch OCR on or off for a collection. When it changes, its PDFs and pictures are
        marked for reading again, since what they give depends on it."""
        rereads = (".pdf", *PICTURE_SUFFIXES)
        if self.get(name).ocr == enabled:
            return
        with self._lock, transaction(self._conn):
            self._conn.execute("UPDATE doc_collections SET ocr = ? WHERE name = ?", (enabled, name))
            rows = self._conn.execute("SELECT path FROM doc_files WHERE collection = ?", (name,))
            paths = [r["path"] for r in rows]
            self._conn.executemany(
                "UPDATE doc_files SET status = 'pending' WHERE collection = ? AND path = ?",
                [(name, p) for p in paths if os.fsdecode(p).lower().endswith(rereads)],
            )

    def delete(self, name: str) -> None:
        with self._lock, transaction(self._conn):
            cursor = self._conn.execute("DELETE FROM doc_collections WHERE name = ?", (name,))
            if cursor.rowcount == 0:
                raise UnknownCollectionError(f"No document collection named {name!r}.")

    def files(self, name: str) -> dict[str, FileRecord]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM doc_files WHERE collection = ? ORDER BY path", (name,)
            ).fetchall()
        records = [_file_record(r) for r in rows]
        return {record.path: record for record in records}

    def replace_files(
        self, name: str, files: Iterable[tuple[FileRecord, Sequence[ChunkRow]]]
    ) -> None:
        """Phase one's write: each file's record and its new chunks (waiting for vectors) in
        one transaction, its old chunks gone and their vectors queued for removal from Chroma."""
        files = list(files)
        with self._lock, transaction(self._conn):
            for record, chunks in files:
                self._drop_chunks(name, record.path, keep={c.id for c in chunks})
                self._conn.executemany(
                    "INSERT INTO doc_chunks (collection, id, path, chunk_index, text, metadata)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (name, c.id, _stored_path(c.path), c.index, c.text, json.dumps(c.metadata))
                        for c in chunks
                    ],
                )
                # A chunk back after its vector was queued for removal keeps its next vector.
                self._conn.executemany(
                    "DELETE FROM doc_vector_removals WHERE collection = ? AND id = ?",
                    [(name, c.id) for c in chunks],
                )
            self._upsert_files(name, [record for record, _ in files])
            self._bump(name)

    def forget(self, name: str, paths: Iterable[str]) -> None:
        """Files gone: their records and chunks deleted, their vectors queued for removal."""
        paths = list(paths)
        with self._lock, transaction(self._conn):
            for path in paths:
                self._drop_chunks(name, path, keep=set())
            self._conn.executemany(
                "DELETE FROM doc_files WHERE collection = ? AND path = ?",
                [(name, _stored_path(p)) for p in paths],
            )
            self._bump(name)

    def _upsert_files(self, name: str, records: Iterable[FileRecord]) -> None:
        now = time.time()
        self._conn.executemany(
            "INSERT OR REPLACE INTO doc_files (collection, path, content_hash, size,"
            " mtime_ns, status, error, chunks, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (name, _stored_path(r.path))
                + (r.content_hash, r.size, r.mtime_ns, r.status, r.error, r.chunks, now)
                for r in records
            ],
        )

    def _drop_chunks(self, name: str, path: str, keep: set[str]) -> None:
        """Delete a file's chunk rows; queue for removal the vectors of those not in `keep`
        (ids are deterministic, so a kept id is about to be written again)."""
        key = _stored_path(path)
        old = self._conn.execute(
            "SELECT id FROM doc_chunks WHERE collection = ? AND path = ?", (name, key)
        ).fetchall()
        self._conn.executemany(
            "INSERT OR IGNORE INTO doc_vector_removals (collection, id) VALUES (?, ?)",
            [(name, r["id"]) for r in old if r["id"] not in keep],
        )
        self._conn.execute("DELETE FROM doc_chunks WHERE collection = ? AND path = ?", (name, key))

    def chunks(self, name: str, ids: Iterable[str] | None = None) -> builtins.list[ChunkRow]:
        """The given chunks (every chunk without `ids`), in id order; unknown ids are left out."""
        query = "SELECT id, path, chunk_index, text, metadata FROM doc_chunks WHERE collection = ?"
        with self._lock:
            if ids is None:
                rows = self._conn.execute(f"{query} ORDER BY id", (name,)).fetchall()
            else:
                wanted = builtins.list(ids)
                rows = []
                for i in range(0, len(wanted), 500):  # under SQLite's variable limit
                    part = wanted[i : i + 500]
                    marks = ",".join("?" * len(part))
                    rows += self._conn.execute(
                        f"{query} AND id IN ({marks})", (name, *part)
                    ).fetchall()
        return sorted((_chunk_row(r) for r in rows), key=lambda c: c.id)

    def chunks_around(
        self, name: str, path: str, text: str, around: int
    ) -> tuple[builtins.list[ChunkRow], int] | None:
        """The chunk of file `path` with this exact text, and up to `around` chunks either
        side of it in file order, with its place in that list; None when no chunk matches."""
        key = _stored_path(path)
        with self._lock:
            found = self._conn.execute(
                "SELECT chunk_index FROM doc_chunks WHERE collection = ? AND path = ? AND text = ?"
                " LIMIT 1",
                (name, key, text),
            ).fetchone()
            if found is None:
                return None
            index = found["chunk_index"]
            rows = self._conn.execute(
                "SELECT id, path, chunk_index, text, metadata FROM doc_chunks"
                " WHERE collection = ? AND path = ? AND chunk_index BETWEEN ? AND ?"
                " ORDER BY chunk_index",
                (name, key, index - around, index + around),
            ).fetchall()
        chunks = [_chunk_row(r) for r in rows]
        return chunks, [c.index for c in chunks].index(index)

    def file_chunks(self, name: str, path: str, limit: int) -> builtins.list[ChunkRow]:
        """The first `limit` chunks of file `path`, in file order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, path, chunk_index, text, metadata FROM doc_chunks"
                " WHERE collection = ? AND path = ? ORDER BY chunk_index LIMIT ?",
                (name, _stored_path(path), limit),
            ).fetchall()
        return [_chunk_row(r) for r in rows]

    def chunks_to_embed(self, name: str, limit: int) -> builtins.list[ChunkRow]:
        """Up to `limit` chunks still without a vector, in the order they were stored."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, path, chunk_index, text, metadata FROM doc_chunks"
                " WHERE collection = ? AND embedded = 0 ORDER BY rowid LIMIT ?",
                (name, limit),
            ).fetchall()
        return [_chunk_row(r) for r in rows]

    def mark_embedded(self, name: str, ids: Iterable[str]) -> None:
        """Phase two's write, after Chroma holds these chunks' vectors. Not a revision: BM25
        does not change."""
        with self._lock, transaction(self._conn):
            self._conn.executemany(
                "UPDATE doc_chunks SET embedded = 1 WHERE collection = ? AND id = ?",
                [(name, i) for i in ids],
            )

    def embedded_ids(self, name: str) -> set[str]:
        """The chunks whose vector Chroma should hold."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM doc_chunks WHERE collection = ? AND embedded = 1", (name,)
            ).fetchall()
        return {r["id"] for r in rows}

    def queue_for_embedding(self, name: str, ids: Iterable[str] | None = None) -> None:
        """These chunks (every chunk without `ids`) need their vector written again: Chroma
        lacks it (see repair.py)."""
        with self._lock, transaction(self._conn):
            if ids is None:
                self._conn.execute(
                    "UPDATE doc_chunks SET embedded = 0 WHERE collection = ?", (name,)
                )
            else:
                self._conn.executemany(
                    "UPDATE doc_chunks SET embedded = 0 WHERE collection = ? AND id = ?",
                    [(name, i) for i in ids],
                )

    def vector_removals(self, name: str, limit: int) -> builtins.list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM doc_vector_removals WHERE collection = ? LIMIT ?", (name, limit)
            ).fetchall()
        return [r["id"] for r in rows]

    def clear_removals(self, name: str, ids: Iterable[str]) -> None:
        """After Chroma has deleted these vectors."""
        with self._lock, transaction(self._conn):
            self._conn.executemany(
                "DELETE FROM doc_vector_removals WHERE collection = ? AND id = ?",
                [(name, i) for i in ids],
            )

    def chunk_counts(self, name: str) -> tuple[int, int]:
        """(chunks stored, chunks whose vector is in Chroma). Asked on every search, so read
        from the files' counts (written with their chunks) and the index of chunks waiting,
        not by counting every chunk."""
        with self._lock:
            total, waiting = self._conn.execute(
                "SELECT (SELECT COALESCE(SUM(chunks), 0) FROM doc_files WHERE collection = :n),"
                " (SELECT COUNT(*) FROM doc_chunks WHERE collection = :n AND embedded = 0)",
                {"n": name},
            ).fetchone()
        return int(total), int(total) - int(waiting)

    def has_vectors(self, name: str) -> bool:
        """Whether any chunk of the collection has its vector in Chroma (one index lookup)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT EXISTS (SELECT 1 FROM doc_chunks WHERE collection = ? AND embedded = 1)",
                (name,),
            ).fetchone()
        return bool(row[0])

    def chunks_in_chroma_only(self, name: str) -> bool:
        """Indexed before schema 4: the chunks are in Chroma but not yet in doc_chunks."""
        with self._lock:
            row = self._conn.execute(
                "SELECT chunks_in_chroma_only FROM doc_collections WHERE name = ?", (name,)
            ).fetchone()
        return bool(row and row[0])

    def copy_from_chroma(self, name: str, chunks: Iterable[ChunkRow]) -> None:
        """Store an older collection's chunks, read back from Chroma (so already embedded)."""
        with self._lock, transaction(self._conn):
            self._conn.executemany(
                "INSERT OR REPLACE INTO doc_chunks"
                " (collection, id, path, chunk_index, text, metadata, embedded)"
                " VALUES (?, ?, ?, ?, ?, ?, 1)",
                [
                    (name, c.id, _stored_path(c.path), c.index, c.text, json.dumps(c.metadata))
                    for c in chunks
                ],
            )
            self._conn.execute(
                "UPDATE doc_collections SET chunks_in_chroma_only = 0 WHERE name = ?", (name,)
            )

    def revision(self, name: str) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT revision FROM doc_collections WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise UnknownCollectionError(f"No document collection named {name!r}.")
        return int(row["revision"])

    def _bump(self, name: str) -> None:
        self._conn.execute(
            "UPDATE doc_collections SET revision = revision + 1 WHERE name = ?", (name,)
        )
