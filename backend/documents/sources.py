"""Finding a collection's files: folders walked recursively, leaving out hidden and binary ones."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from backend.documents.errors import DocumentPathError
from backend.documents.parsers import BINARY_SNIFF_BYTES, PARSERS, PICTURE_SUFFIXES


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


def _is_binary(path: Path, pictures: bool) -> bool:
    # Formats with their own parser are binary containers and are read by that parser;
    # pictures are documents when OCR can read them.
    if path.suffix.lower() in PARSERS or (pictures and path.suffix.lower() in PICTURE_SUFFIXES):
        return False
    with path.open("rb") as handle:
        return b"\x00" in handle.read(BINARY_SNIFF_BYTES)


def utf8_text(text: str) -> str:
    """Text that can be stored and sent (SQLite, Chroma, JSON): the surrogate escapes that
    stand for a file name's bytes that are not UTF-8 become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def display_path(path: str | Path) -> str:
    """A path as the user sees it and as Chroma stores it (the one way Hearth shows a name
    that is not valid UTF-8: each bad byte as U+FFFD). The exact path, surrogate escapes
    intact, stays in the ingest state, where the file is reopened."""
    return utf8_text(str(path))


def _unreadable(error: OSError) -> str:
    return f"cannot be read ({error.strerror or type(error).__name__})"


def _check(path: Path, max_bytes: int, pictures: bool) -> FoundFile:
    try:
        stat = path.stat()
        reason = None
        if stat.st_size > max_bytes:
            reason = f"larger than the {max_bytes // 1_000_000} MB limit"
        elif _is_binary(path, pictures):
            reason = "binary file"
    except FileNotFoundError:
        raise
    except OSError as exc:  # a permission or I/O error skips this file, never the run
        return FoundFile(path, 0, 0, _unreadable(exc))
    return FoundFile(path, stat.st_size, stat.st_mtime_ns, reason)


LINK_SKIPPED = "symbolic link (links are not followed)"


def _not_indexable(path: Path) -> str | None:
    """Why an entry of the walk is not a file to read, or None when it is one."""
    if path.is_symlink():
        return LINK_SKIPPED
    if not path.is_file():
        return "not a regular file"
    return None


def _walk(folder: Path) -> Iterator[FoundFile | Path]:
    """The folder's files, and a skipped entry for each folder that cannot be listed and for
    each link to a folder (os.walk would leave both out without a word)."""
    unlisted: list[OSError] = []
    for parent, dirs, files in os.walk(folder, onerror=unlisted.append):
        yield from _unlisted(unlisted)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in [d for d in dirs if os.path.islink(os.path.join(parent, d))]:
            dirs.remove(name)
            yield FoundFile(Path(parent) / name, 0, 0, LINK_SKIPPED)
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(parent) / name
    yield from _unlisted(unlisted)


def _unlisted(errors: list[OSError]) -> Iterator[FoundFile]:
    yield from (FoundFile(Path(e.filename), 0, 0, _unreadable(e)) for e in errors)
    errors.clear()


def _candidates(root: Path) -> Iterable[FoundFile | Path]:
    try:
        return _walk(root) if root.is_dir() else [root] if root.exists() else []
    except OSError as exc:  # its parent folder cannot be searched
        return [FoundFile(root, 0, 0, _unreadable(exc))]


def find_files(roots: Sequence[str], max_bytes: int, pictures: bool = False) -> Iterator[FoundFile]:
    """Each file under the roots once, in a stable order, with why it is skipped if it is:
    one unreadable file or folder is reported and never stops the run. Missing roots are
    skipped: a folder that was removed simply has no files left. Hidden entries are left out.
    With `pictures` (OCR on), PNG, JPEG and TIFF files are documents too."""
    seen: set[Path] = set()
    for root in map(Path, roots):
        for entry in _candidates(root):
            path = entry.path if isinstance(entry, FoundFile) else entry
            if path in seen:
                continue
            seen.add(path)
            try:
                found = entry if isinstance(entry, FoundFile) else _found(path, max_bytes, pictures)
            except FileNotFoundError:
                continue  # gone since its folder was listed
            yield found


def _found(path: Path, max_bytes: int, pictures: bool) -> FoundFile:
    try:
        reason = _not_indexable(path)
    except OSError as exc:
        return FoundFile(path, 0, 0, _unreadable(exc))
    if reason is not None:
        return FoundFile(path, 0, 0, reason)
    return _check(path, max_bytes, pictures)


def find_entries(root: Path, wanted: Callable[[Path], bool]) -> Iterator[FoundFile]:
    """The files under `root` that `wanted` keeps, by the walk `find_files` makes, each with why
    it is skipped if it is (a link, a FIFO, an entry that cannot be read), and every folder that
    cannot be listed; without `find_files`' size and content checks, for callers (image
    indexing) that make their own."""
    for entry in _candidates(root):
        if isinstance(entry, FoundFile):
            yield entry
        elif wanted(entry):
            try:
                reason = _not_indexable(entry)
            except OSError as exc:
                reason = _unreadable(exc)
            yield FoundFile(entry, 0, 0, reason)
