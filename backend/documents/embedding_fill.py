"""Phase two of indexing: vectors for the stored chunks that lack one, written to Chroma, and
the vectors of replaced or removed chunks deleted from it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from backend.documents.blocks import Chunk
from backend.documents.retrieval import HEADING_SEPARATOR
from backend.documents.state import ChunkRow, IngestState

if TYPE_CHECKING:
    from backend.documents.vector_store import ChunkStore
    from backend.embeddings.minilm import MiniLmEmbedder

REMOVALS_PER_CALL = 1000


class ChunkStoreSource(Protocol):
    """The Chroma store, opened only when there are vectors to write or delete."""

    def get(self) -> ChunkStore: ...


def stored_chunk(row: ChunkRow) -> Chunk:
    """The chunk phase one parsed, rebuilt from its row (the inverse of ingest.chunk_metadata),
    so it is embedded exactly as a one-phase run would have embedded it."""
    meta = row.metadata
    lines = (meta["start_line"], meta["end_line"]) if "start_line" in meta else None
    span = (meta["char_start"], meta["char_end"]) if "char_start" in meta else None
    headings = meta.get("headings")
    return Chunk(
        text=row.text,
        index=row.index,
        headings=tuple(headings.split(HEADING_SEPARATOR)) if headings else (),
        page=meta.get("page"),
        lines=lines,
        span=span,
    )


def fill_vectors(
    name: str,
    state: IngestState,
    store: ChunkStoreSource,
    embedder: MiniLmEmbedder,
    batch: int,
) -> Iterator[int]:
    """Delete queued vectors, then embed and write the waiting chunks batch by batch; yields
    how many chunks each batch embedded. A chunk is marked embedded only once Chroma holds its
    vector, and a removal cleared only once Chroma dropped it, so a kill redoes, never skips."""
    while ids := state.vector_removals(name, REMOVALS_PER_CALL):
        store.get().delete_ids(name, ids)
        state.clear_removals(name, ids)
    while rows := state.chunks_to_embed(name, batch):
        vectors = embedder.embed([stored_chunk(r).embedding_text() for r in rows])
        store.get().upsert(
            name, [r.id for r in rows], [r.text for r in rows], vectors, [r.metadata for r in rows]
        )
        state.mark_embedded(name, [r.id for r in rows])
        yield len(rows)
