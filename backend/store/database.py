"""Opening hearth.db: connection settings, explicit transactions and schema migration."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backend.store.migrations import LATEST_VERSION, MIGRATIONS


class DatabaseTooNewError(Exception):
    """The database was written by a newer Hearth whose schema this version does not know."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database at `path`, migrated to the latest schema.

    The connection may be used from any thread; callers that share it must serialise access.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None turns off sqlite3's implicit transactions; `transaction()` opens them.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    try:
        conn.row_factory = sqlite3.Row
        # WAL lets readers run during a write. NORMAL in WAL mode still keeps every committed
        # transaction across a process crash; only a power cut can lose the last ones.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Commit on success, roll back on any error. IMMEDIATE takes the write lock up front."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Apply the migrations the database lacks, each in its own transaction; return the version."""
    found = schema_version(conn)
    if found > LATEST_VERSION:
        raise DatabaseTooNewError(
            f"{path} has schema version {found}, but this Hearth only knows up to version "
            f"{LATEST_VERSION}. A newer Hearth wrote it: update Hearth, or set HEARTH_HOME "
            "to another folder."
        )
    for version, statements in MIGRATIONS:
        if version <= found:
            continue
        with transaction(conn):
            # Re-read under the write lock: another process may have migrated meanwhile.
            if schema_version(conn) >= version:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version:d}")
    return schema_version(conn)
