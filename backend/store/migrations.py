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
    (
        4,
        (
            # Two-phase indexing: a file's chunks (text and the metadata filed with its vector)
            # are stored here with its doc_files row in one transaction, so BM25 can search them
            # at once; `embedded` turns 1 once the chunk's vector is in Chroma. `path` is keyed
            # as in doc_files (text, or the exact bytes of a name that is not UTF-8).
            """
            CREATE TABLE doc_chunks (
                collection TEXT NOT NULL REFERENCES doc_collections(name) ON DELETE CASCADE,
                id TEXT NOT NULL,
                path NOT NULL,
                chunk_index INTEGER NOT NULL,
                text TEXT NOT NULL,
                metadata TEXT NOT NULL,
                embedded INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (collection, id)
            )
            """,
            "CREATE INDEX doc_chunks_by_file ON doc_chunks(collection, path)",
            "CREATE INDEX doc_chunks_to_embed ON doc_chunks(collection) WHERE embedded = 0",
            # Chunk ids whose vectors are still to be deleted from Chroma (a file changed or
            # went away): written with the chunks' removal, cleared once Chroma has them gone.
            """
            CREATE TABLE doc_vector_removals (
                collection TEXT NOT NULL REFERENCES doc_collections(name) ON DELETE CASCADE,
                id TEXT NOT NULL,
                PRIMARY KEY (collection, id)
            )
            """,
            # Collections indexed before this version have their chunks only in Chroma; the
            # library copies them here on first use.
            "ALTER TABLE doc_collections ADD COLUMN chunks_in_chroma_only INTEGER NOT NULL"
            " DEFAULT 0",
            "UPDATE doc_collections SET chunks_in_chroma_only = 1",
        ),
    ),
    (
        5,
        # Whether a collection reads scanned pages and pictures by OCR: on unless switched off.
        ("ALTER TABLE doc_collections ADD COLUMN ocr INTEGER NOT NULL DEFAULT 1",),
    ),
    (
        6,
        # A regenerated reply keeps the replies it replaced (ReplyVersion JSON, by age).
        ("ALTER TABLE messages ADD COLUMN versions TEXT NOT NULL DEFAULT '[]'",),
    ),
    (
        7,
        # Whether a collection has any vector yet is asked on every search: with this index it
        # is one lookup, not a scan of the chunks still waiting (all of them in phase one).
        ("CREATE INDEX doc_chunks_embedded ON doc_chunks(collection) WHERE embedded = 1",),
    ),
)

LATEST_VERSION = MIGRATIONS[-1][0]
