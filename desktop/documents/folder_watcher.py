"""Folder watching: the folders of every collection, subfolders included, and the files in
them, re-synced after a change once things have been quiet for a moment (saving a file is
several events)."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from desktop.workers import TaskRunner

if TYPE_CHECKING:
    from backend.wire import CollectionInfo

QUIET_MS = 1500
# A folder reports files added, removed or renamed; an edit in place only reaches a watch on
# the file itself. Each watch holds a kernel handle (inotify's limit is often 8,192 to 65,536
# for the whole user), so a huge collection has only its first files watched this way; its
# folders are always watched, and Re-sync catches the rest.
MAX_WATCHED_FILES = 5_000
# Paths added to or removed from the watcher per turn of the event loop: each costs a stat and
# a system call, about 16 µs, so 5,000 at once would stall the window for 80 ms.
BATCH = 500

log = logging.getLogger(__name__)


def paths_under(
    roots: dict[str, list[str]], max_files: int = MAX_WATCHED_FILES
) -> dict[str, set[str]]:
    """Every folder and file to watch and the collections it belongs to, at most `max_files`
    files a collection; walks the disk, so run it in a worker. Hidden folders and files are
    skipped, as indexing skips them."""
    owners: dict[str, set[str]] = {}
    for name, paths in roots.items():
        files = 0
        for root in paths:
            if not os.path.isdir(root):
                if os.path.exists(root):  # a single file of the collection
                    owners.setdefault(root, set()).add(name)
                continue
            for folder, subfolders, names in os.walk(root):
                subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
                owners.setdefault(folder, set()).add(name)
                visible = sorted(n for n in names if not n.startswith("."))
                for file_name in visible[: max(0, max_files - files)]:
                    owners.setdefault(os.path.join(folder, file_name), set()).add(name)
                files += len(visible)
        if files > max_files:
            log.warning(
                "Collection %r has %d files; only the first %d are watched for edits in place "
                "(new, removed and renamed files are still seen). Use Re-sync after editing "
                "the others.",
                name,
                files,
                max_files,
            )
    return owners


class FolderWatcher(QObject):
    """Emits `changed(collection)` when a watched folder or file changes: a file added, removed,
    renamed or written."""

    changed = Signal(str)

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._watcher = QFileSystemWatcher(self)
        self._roots: dict[str, list[str]] = {}
        self._owners: dict[str, set[str]] = {}
        self._changed: set[str] = set()
        self._quiet = QTimer(self)
        self._quiet.setSingleShot(True)
        self._quiet.setInterval(QUIET_MS)
        self._quiet.timeout.connect(self._report)
        self._watcher.directoryChanged.connect(self._on_change)
        self._watcher.fileChanged.connect(self._on_change)
        self._to_add: list[str] = []
        self._to_remove: list[str] = []
        self._batches = QTimer(self)
        self._batches.setInterval(0)
        self._batches.timeout.connect(self._next_batch)

    @property
    def watched(self) -> list[str]:
        return self._watcher.directories() + self._watcher.files()

    def watch(self, collections: list[CollectionInfo]) -> None:
        roots = {c.name: list(c.roots) for c in collections}
        if roots != self._roots:
            self._roots = roots
            self._rescan()

    def _rescan(self) -> None:
        roots = dict(self._roots)
        self._runner.submit(lambda: paths_under(roots), self._watch_paths)

    def _watch_paths(self, owners: dict[str, set[str]]) -> None:
        self._owners = owners
        watched = set(self.watched)
        self._to_remove = [p for p in watched if p not in owners]
        self._to_add = [p for p in owners if p not in watched]
        self._batches.start()

    def _next_batch(self) -> None:
        if self._to_remove:
            batch, self._to_remove = self._to_remove[:BATCH], self._to_remove[BATCH:]
            self._watcher.removePaths(batch)
        elif self._to_add:
            batch, self._to_add = self._to_add[:BATCH], self._to_add[BATCH:]
            self._watcher.addPaths(batch)
        else:
            self._batches.stop()

    def _on_change(self, path: str) -> None:
        self._changed |= self._owners.get(path, set())
        self._quiet.start()  # restarts: one sync after the last event

    def _report(self) -> None:
        self._rescan()  # a new subfolder or file is watched from now on
        for name in sorted(self._changed):
            self.changed.emit(name)
        self._changed.clear()
