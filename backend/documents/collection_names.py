"""Collection names: what a display name may be, and the safe key that stands for it wherever a
name would become a file name."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from backend.documents.errors import InvalidCollectionNameError

MAX_NAME_LENGTH = 64
# The names Hearth allowed before any text could be a name: their key stays the name itself,
# so the files already kept under them are still found.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def collection_name_problem(name: str) -> str | None:
    """Why `name` cannot name a collection, or None when it can. Only what cannot work is
    refused: a '/' would split the collection's web address, and '.' or '..' are path steps."""
    if not name.strip():
        return "A collection name cannot be blank."
    if len(name) > MAX_NAME_LENGTH:
        return f"A collection name has at most {MAX_NAME_LENGTH} characters, not {len(name)}."
    if name != name.strip():
        return "A collection name cannot start or end with a space."
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        return "A collection name cannot contain control characters such as a line break."
    if any(unicodedata.category(c) == "Cs" for c in name):
        return "A collection name must be valid text (this one holds undecodable bytes)."
    if "/" in name:
        return "A collection name cannot contain '/': it is part of the collection's address."
    if name in (".", ".."):
        return "A collection name cannot be '.' or '..'."
    return None


def check_collection_name(name: str) -> str:
    problem = collection_name_problem(name)
    if problem is not None:
        raise InvalidCollectionNameError(f"Invalid collection name {name!r}: {problem}")
    return name


def collection_key(name: str) -> str:
    """A file-name-safe key for the collection: the name itself when it is plain ASCII (as
    every name was before), else a digest. '~' never starts a plain name, so the two kinds
    cannot meet."""
    if _PLAIN_NAME.fullmatch(name):
        return name
    return "~" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
