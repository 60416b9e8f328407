"""The numbered schema migrations of hearth.db; `database.migrate` applies them in order."""

from __future__ import annotations

# Each entry is (version, statements). Statements are listed one by one rather than as a script
# because sqlite3's executescript() commits first, which would break the per-version transaction.
# Versions run 1, 2, 3... with no gaps. Never edit a shipped migration; append a new one.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """
            CREATE TABLE conversations (
                id TEXT PRIMARY KEY,
                title TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                system_prompt TEXT,
                model TEXT,
                settings TEXT NOT NULL DEFAULT '{}',
                collections TEXT NOT NULL DEFAULT '[]'
            )
            """,
            """
            CREATE TABLE messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                conversation_id TEXT NOT NULL
                    REFERENCES conversations(id) ON DELETE CASCADE,
                role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
                content TEXT NOT NULL,
                model TEXT,
                created_at REAL NOT NULL,
                status TEXT NOT NULL DEFAULT 'complete'
                    CHECK (status IN ('complete', 'interrupted', 'error')),
                timings TEXT,
                attachments TEXT NOT NULL DEFAULT '[]',
                sources TEXT NOT NULL DEFAULT '[]'
            )
            """,
            "CREATE INDEX messages_by_conversation ON messages(conversation_id, id)",
        ),
    ),
    (
        2,
        (
            # Document collections and, per file, what was last indexed from it. A file is
            # marked 'pending' before its chunks are written to Chroma and 'indexed' or 'failed'
            # after, so a run killed half-way redoes exactly the files it had not finished.
            """
            CREATE TABLE doc_collections (
                name TEXT PRIMARY KEY,
                created_at REAL NOT NULL,
                roots TEXT NOT NULL DEFAULT '[]',
                revision INTEGER NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE doc_files (
                collection TEXT NOT NULL REFERENCES doc_collections(name) ON DELETE CASCADE,
                path TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'indexed', 'failed')),
                error TEXT,
                chunks INTEGER NOT NULL DEFAULT 0,
                updated_at REAL NOT NULL,
                PRIMARY KEY (collection, path)
            )
            """,
        ),
    ),
    (
        3,
        (
            # A reply is stored as 'generating' when it starts and updated as it streams, so a
            # server killed mid-reply leaves the partial text; start-up marks it 'interrupted'.
            # SQLite cannot change a CHECK constraint in place: the table is copied.
            """
            CREATE TABLE messages_v3 (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                conversation_id TEXT NOT NULL
                    REFERENCES conversations(id) ON DELETE CASCADE,
                role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
                content TEXT NOT NULL,
                model TEXT,
                created_at REAL NOT NULL,
                status TEXT NOT NULL DEFAULT 'complete'
                    CHECK (status IN ('complete', 'interrupted', 'error', 'generating')),
                timings TEXT,
                attachments TEXT NOT NULL DEFAULT '[]',
                sources TEXT NOT NULL DEFAULT '[]'
            )
            """,
            "INSERT INTO messages_v3 SELECT * FROM messages",
            "DROP TABLE messages",
            "ALTER TABLE messages_v3 RENAME TO messages",
            "CREATE INDEX messages_by_conversation ON messages(conversation_id, id)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1][0]
