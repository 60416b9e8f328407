"""Saved BM25 indexes under HEARTH_HOME/bm25: one folder per collection revision, so a cold
search loads the index instead of rebuilding it from every chunk."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from pathlib import Path

from backend.documents.retrieval import Bm25Index

log = logging.getLogger(__name__)

IDS_FILE = "chunk_ids.json"


def index_version(created_at: float, revision: int) -> str:
    """Names one state of one collection: a collection removed and made again under the same
    name starts its revisions anew, so its creation time is part of the name."""
    return f"r{revision}-c{round(created_at * 1_000_000)}"


class Bm25Store:
    """Reads and writes bm25s's saved indexes with their chunk ids. A folder appears whole, by
    rename, so a process killed while saving leaves either no index or a complete one."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, name: str) -> Path:
        return self.root / hashlib.sha256(name.encode()).hexdigest()[:24]

    def load(self, name: str, version: str, revision: int) -> Bm25Index | None:
        """The index saved for this version, or None when there is none (or it is unreadable,
        which a rebuild then replaces)."""
        import bm25s

        folder = self._folder(name) / version
        if not folder.is_dir():
            return None
        try:
            ids = json.loads((folder / IDS_FILE).read_text())
            retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0)
        except (OSError, ValueError, KeyError) as exc:
            log.warning(
                "rebuilding the BM25 index of %r: the saved one is unreadable (%s)", name, exc
            )
            return None
        return Bm25Index(revision, ids, retriever)

    def save(self, name: str, version: str, index: Bm25Index) -> None:
        """Write the index as `version` and delete the collection's older ones. An empty index
        (nothing to load faster) is not written."""
        if not index.ids:
            return
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=folder))
        try:
            index.retriever.save(str(staging), show_progress=False)
            (staging / IDS_FILE).write_text(json.dumps(index.ids))
            staging.rename(folder / version)
        except OSError:
            # Another process saved this version first, or the disk is full: the search goes on
            # with the index in memory.
            shutil.rmtree(staging, ignore_errors=True)
            log.warning("could not save the BM25 index of %r", name, exc_info=True)
            return
        for other in folder.iterdir():
            if other.name != version:  # older revisions, and staging folders a kill left
                shutil.rmtree(other, ignore_errors=True)

    def drop(self, name: str) -> None:
        shutil.rmtree(self._folder(name), ignore_errors=True)
