"""Ingest state in hearth.db: the collections, their folders, and what was indexed per file."""

from __future__ import annotations

import builtins
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from backend.documents.errors import InvalidCollectionNameError, UnknownCollectionError
from backend.store.database import connect, transaction
from backend.wire import CollectionInfo, FileRecord

COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_collection_name(name: str) -> str:
    if not COLLECTION_NAME.fullmatch(name):  # `$` would let a trailing newline through
        raise InvalidCollectionNameError(
            f"Invalid collection name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def _stored_path(path: str) -> str | bytes:
    """How a path is keyed in doc_files: as text, or, when the name is not valid UTF-8 (a
    surrogate-escaped str), as its exact bytes (a BLOB; the column is untyped enough in
    SQLite to hold both, so no migration). Lossless both ways."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


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
                files=r["files"],
                failed=r["failed"],
                chunks=r["chunks"],
            )
            for r in rows
        ]

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

    def record(self, name: str, records: Iterable[FileRecord]) -> None:
        """Write these files' states in one transaction; the collection's revision moves on."""
        with self._lock, transaction(self._conn):
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
            self._bump(name)

    def forget(self, name: str, paths: Iterable[str]) -> None:
        with self._lock, transaction(self._conn):
            self._conn.executemany(
                "DELETE FROM doc_files WHERE collection = ? AND path = ?",
                [(name, _stored_path(p)) for p in paths],
            )
            self._bump(name)

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
