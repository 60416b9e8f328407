"""GGUF metadata remembered per file, on disk, so that listing hundreds of models stays instant.

An entry is keyed by the file's path, size and modification time: a file that changes is read
again. A file that is not a valid GGUF is remembered as such, with the reason, unless it could
not be opened at all (a permission that changes leaves the modification time as it was).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from backend.models.gguf_info import GgufInfo, InvalidGgufError, read_gguf_info
from backend.settings import write_atomically

VERSION = 1  # bump when GgufInfo's fields change, so that old entries are read again


class HeaderCache:
    """Reads a GGUF's metadata once per version of the file; `save` writes what was learnt."""

    def __init__(self, file: Path | None) -> None:
        self._file = file
        self._entries: dict[str, dict[str, Any]] | None = None
        self._dirty = False
        self._lock = threading.Lock()

    def info(self, path: Path) -> GgufInfo:
        """`path`'s metadata; raises InvalidGgufError, or OSError when it cannot be found."""
        stat = path.stat()
        key, stamp = str(path), [stat.st_size, stat.st_mtime_ns]
        with self._lock:
            entry = self._load().get(key)
        if entry is None or not _current(entry, stamp):
            entry = {"stamp": stamp} | _read(path)
            with self._lock:
                self._load()[key] = entry
                self._dirty = True
        if "error" in entry:
            raise InvalidGgufError(entry["error"])
        return GgufInfo(**entry["info"])

    def save(self) -> None:
        """Write the cache if it learnt something, forgetting files that are gone."""
        if self._file is None or not self._dirty:
            return
        with self._lock:
            kept = {key: e for key, e in self._load().items() if os.path.exists(key)}
            self._entries, self._dirty = kept, False
            text = json.dumps({"version": VERSION, "files": kept})
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self._file, text)
        except OSError:  # a read-only home still lists models, only more slowly next time
            pass

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = {}
            if self._file is not None:
                try:
                    data = json.loads(self._file.read_text(encoding="utf-8"))
                    if data.get("version") == VERSION:
                        self._entries = dict(data["files"])
                except (OSError, ValueError, KeyError, AttributeError, TypeError):
                    pass  # no cache yet, or a damaged one: everything is read again
        return self._entries


def _current(entry: Any, stamp: list[int]) -> bool:
    """Whether a remembered entry is for this version of the file, and whole (the cache file
    is Hearth's own, but a damaged one must only cost a re-read)."""
    if not isinstance(entry, dict) or entry.get("stamp") != stamp:
        return False
    if isinstance(entry.get("error"), str):
        return True
    info = entry.get("info")
    return isinstance(info, dict) and set(info) == set(GgufInfo.__dataclass_fields__)


def _read(path: Path) -> dict[str, Any]:
    try:
        return {"info": read_gguf_info(path).to_dict()}
    except InvalidGgufError as exc:
        if isinstance(exc.__cause__, OSError):
            raise  # could not be opened: not remembered, it may become readable
        return {"error": str(exc)}
