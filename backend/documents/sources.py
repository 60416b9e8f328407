"""Finding a collection's files: folders walked recursively, leaving out hidden and binary ones."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from backend.documents.errors import DocumentPathError
from backend.documents.parsers import BINARY_SNIFF_BYTES, PARSERS


@dataclass(frozen=True)
class FoundFile:
    path: Path
    size: int
    mtime_ns: int
    skipped: str | None = None  # why it is left out, if it is


def resolve_roots(paths: Sequence[str | Path]) -> list[str]:
    """Absolute paths of what the user named; a missing one is an error before any work."""
    roots = []
    for raw in paths:
        if not str(raw).strip():  # Path("") is ".", which would index the working folder
            raise DocumentPathError("An empty path was given: name a file or folder.")
        path = Path(raw).expanduser()
        if not path.exists():
            raise DocumentPathError(f"{path} does not exist.")
        roots.append(str(path.resolve()))
    return roots


def _is_binary(path: Path) -> bool:
    # Formats with their own parser are binary containers and are read by that parser.
    if path.suffix.lower() in PARSERS:
        return False
    with path.open("rb") as handle:
        return b"\x00" in handle.read(BINARY_SNIFF_BYTES)


def _check(path: Path, max_bytes: int) -> FoundFile:
    stat = path.stat()
    reason = None
    if stat.st_size > max_bytes:
        reason = f"larger than the {max_bytes // 1_000_000} MB limit"
    elif _is_binary(path):
        reason = "binary file"
    return FoundFile(path, stat.st_size, stat.st_mtime_ns, reason)


def _walk(folder: Path) -> Iterator[Path]:
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(parent) / name


def find_files(roots: Sequence[str], max_bytes: int) -> Iterator[FoundFile]:
    """Each regular file under the roots once, in a stable order. Missing roots are skipped:
    a folder that was removed simply has no files left."""
    seen: set[Path] = set()
    for root in map(Path, roots):
        candidates = _walk(root) if root.is_dir() else [root] if root.is_file() else []
        for path in candidates:
            if path in seen or not path.is_file() or path.is_symlink():
                continue
            seen.add(path)
            yield _check(path, max_bytes)
