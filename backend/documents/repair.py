"""Keeping Chroma's vectors whole: a collection whose Chroma write failed (a full disk) is marked,
and its next sync rebuilds the vectors from the stored chunks and checks them before it reports
success; every sync also re-adds the vectors Chroma lacks (a new Chroma server, say).

Why a rebuild and not a patch: when Chroma's index file cannot grow, its writer can fail without
an error and still count the vectors as saved, so the process that hit the failure sees every
vector while the files lack some, and writing the same ids again is not saved either. A fresh
Chroma collection is written whole; the chunks' text and metadata are in hearth.db, so only the
vectors are computed again, and BM25 search keeps working meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
from pathlib import Path
from typing import TYPE_CHECKING

from backend.documents.collection_names import collection_key
from backend.documents.errors import IndexDiskFullError, IndexRepairError, IndexWriteError
from backend.errors import HearthError

if TYPE_CHECKING:
    from backend.documents.embedding_fill import ChunkStoreSource
    from backend.documents.state import IngestState
    from backend.documents.vector_store import StoredChunk

# No room left: the disk or the user's quota is full, or a file-size limit (RLIMIT_FSIZE) is hit.
NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# How Chroma (its SQLite and its index files) words a write that found no room.
NO_SPACE_WORDS = ("disk is full", "no space left", "disk i/o error", "file too large", "compaction")
SAMPLE = 32  # chunks checked by a self-query after a repair
NEIGHBOURS = 10  # a sampled chunk must come back among this many nearest (equal texts tie)


class RepairMarks:
    """One small file per collection that needs repair, under HEARTH_HOME/needs-repair. A file,
    not a row in hearth.db: creating one still works when the disk is too full for SQLite's
    journal, and it survives a crash or a restart. Once the vectors are dropped and queued, the
    file moves to `rebuilding/`, so a paused or interrupted rebuild resumes instead of restarting.
    """

    def __init__(self, home: Path) -> None:
        self.folder = home / "needs-repair"
        self.rebuilding = self.folder / "rebuilding"

    def mark(self, name: str, reason: str) -> None:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        fd = os.open(self.folder / collection_key(name), flags, 0o600)
        try:
            with contextlib.suppress(OSError):  # the file is the mark; the reason a courtesy
                os.write(fd, (reason[:500] + "\n").encode("utf-8", "replace"))
        finally:
            os.close(fd)

    def needs_rebuild(self, name: str) -> bool:
        return (self.folder / collection_key(name)).exists()

    def rebuild_started(self, name: str) -> None:
        self.rebuilding.mkdir(mode=0o700, exist_ok=True)
        key = collection_key(name)  # a plain name is its own key: older marks are still found
        os.replace(self.folder / key, self.rebuilding / key)

    def marked(self, name: str) -> bool:
        """Marked, or rebuilt but not yet checked."""
        return self.needs_rebuild(name) or (self.rebuilding / collection_key(name)).exists()

    def clear(self, name: str) -> None:
        (self.folder / collection_key(name)).unlink(missing_ok=True)
        (self.rebuilding / collection_key(name)).unlink(missing_ok=True)


def is_disk_full(exc: BaseException) -> bool:
    """An OSError for lack of space anywhere in the chain, or Chroma's words for one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in NO_SPACE:
            return True
        if any(word in str(seen).lower() for word in NO_SPACE_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class VectorRepair:
    """The repair steps of one sync of collection `name`, around its indexing run."""

    def __init__(
        self,
        name: str,
        state: IngestState,
        store: ChunkStoreSource,
        marks: RepairMarks,
        location: str,
        database: Path,
    ) -> None:
        self.name, self.state, self.store, self.marks = name, state, store, marks
        self.location, self.database = location, database  # named in messages

    def prepare(self) -> None:
        """Before the run. A marked collection's vectors are dropped and every chunk queued for
        embedding; otherwise the chunks Chroma lacks are queued (by count, then by id). The
        run's embedding phase then writes them."""
        if self.marks.needs_rebuild(self.name):
            self.store.get().drop(self.name)
            self.state.queue_for_embedding(self.name)
            self.marks.rebuild_started(self.name)
            return
        if self.marks.marked(self.name):
            return  # rebuilding: the embedding phase goes on with the queued chunks
        embedded = self.state.chunk_counts(self.name)[1]
        if embedded == 0 or self.store.get().count(self.name) == embedded:
            return
        held = {c.id for c in self.store.get().all(self.name)}
        missing = self.state.embedded_ids(self.name) - held
        if missing:
            self.state.queue_for_embedding(self.name, missing)

    def confirm(self) -> None:
        """After the embedding phase of a marked collection, before success is reported: Chroma
        holds as many vectors as chunks were embedded, and sampled chunks each find themselves
        by their own stored vector. Then the mark goes."""
        if not self.marks.marked(self.name):
            return
        store = self.store.get()
        embedded = self.state.embedded_ids(self.name)
        held = store.count(self.name)
        if held != len(embedded):
            raise IndexRepairError(
                f"collection {self.name!r}: Chroma at {self.location} holds {held} vectors "
                f"after the repair, not {len(embedded)}; run `hearth docs sync {self.name}` again"
            )
        sample = random.sample(sorted(embedded), min(SAMPLE, len(embedded)))
        found = store.get(self.name, sample)
        lost = len(sample) - sum(self._finds_itself(c) for c in found)
        if lost:
            raise IndexRepairError(
                f"collection {self.name!r}: {lost} of {len(sample)} sampled chunks are not found "
                f"by their own vector in Chroma at {self.location} after the repair; run "
                f"`hearth docs sync {self.name}` again"
            )
        self.marks.clear(self.name)

    def _finds_itself(self, chunk: StoredChunk) -> bool:
        if chunk.vector is None:
            return False
        nearest = self.store.get().query(self.name, chunk.vector, NEIGHBOURS)
        return chunk.id in {c.id for c in nearest}

    def failed(self, exc: Exception, writing_vectors: bool) -> Exception:
        """What to raise for a run that failed: a failure while Chroma was being written marks
        the collection, and a full disk says so with the path that could not be written."""
        if writing_vectors:
            self.marks.mark(self.name, f"{type(exc).__name__}: {exc}")
        if isinstance(exc, HearthError):
            return exc
        if not writing_vectors:  # reading and storing chunks: hearth.db, or a parser's bug
            if not is_disk_full(exc):
                return exc
            return IndexDiskFullError(
                f"disk full: the ingest state in {self.database} could not be written ({exc}); "
                f"free some space, then run `hearth docs sync {self.name}` to go on"
            )
        if is_disk_full(exc):
            return IndexDiskFullError(
                f"disk full: the document index at {self.location} could not be written ({exc}); "
                f"free some space, then run `hearth docs sync {self.name}`: it repairs the "
                "collection"
            )
        return IndexWriteError(
            f"the document index at {self.location} could not be written ({exc}); "
            f"`hearth docs sync {self.name}` repairs the collection once the cause is fixed"
        )
