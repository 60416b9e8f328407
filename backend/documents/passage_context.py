"""A cited passage in its surroundings: the neighbouring chunks of its file, read from the chunk
store, joined without the sentences the chunker repeats between neighbours."""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

from backend.documents.errors import DocumentNotIndexedError
from backend.wire import DocumentText, PassageContext

if TYPE_CHECKING:
    from backend.documents.state import IngestState

MIN_OVERLAP = 8  # shorter shared ends ("the", a full stop) are chance, not the chunker's overlap


def passage_context(
    state: IngestState, collection: str, path: str, text: str, around: int = 1
) -> PassageContext:
    """The passage `text` of `path` with `around` chunks before and after it."""
    state.get(collection)  # an unknown collection is an error, not an empty context
    found = state.chunks_around(collection, path, text, around)
    if found is None:
        return PassageContext(found=False, passage=text)
    chunks, at = found
    texts = [c.text for c in chunks]
    before = "".join(without_overlap(texts[i], texts[i + 1]) + "\n" for i in range(at))
    after = "".join("\n" + after_overlap(texts[i - 1], texts[i]) for i in range(at + 1, len(texts)))
    return PassageContext(found=True, before=before, passage=texts[at], after=after)


def document_text(state: IngestState, collection: str, path: str, max_chars: int) -> DocumentText:
    """The document's indexed text from its start, its chunks' overlaps left out, cut at
    `max_chars` (a quick action's prompt must fit the model's context)."""
    state.get(collection)
    limit = 1 + max_chars // 100  # chunks hold hundreds of characters: enough to fill it
    chunks = [c.text for c in state.file_chunks(collection, path, limit)]
    if not chunks:
        raise DocumentNotIndexedError(f"{path} is not indexed in collection {collection!r}")
    text = chunks[0] + "".join("\n" + after_overlap(a, b) for a, b in pairwise(chunks))
    complete = len(text) <= max_chars and len(chunks) < limit
    return DocumentText(path=path, text=text[:max_chars], complete=complete)


def _overlap(first: str, second: str) -> int:
    """How many characters end `first` and begin `second` (0 when under MIN_OVERLAP)."""
    for start in range(len(first)):
        tail = first[start:]
        if len(tail) < MIN_OVERLAP:
            return 0
        if second.startswith(tail):
            return len(tail)
    return 0


def without_overlap(first: str, second: str) -> str:
    """`first` without its end that `second` repeats."""
    return first[: len(first) - _overlap(first, second)].rstrip()


def after_overlap(first: str, second: str) -> str:
    """`second` without its start that `first` already ends with."""
    return second[_overlap(first, second) :].lstrip()
