"""Answering from documents: the sources a question retrieves and the prompt that cites them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from backend.documents.reranker import answers_question
from backend.wire import Source

if TYPE_CHECKING:
    from backend.documents.library import DocumentLibrary

SOURCES_PER_QUESTION = 4
NOTHING_FOUND = (
    "I found nothing about this in the attached documents, so I cannot answer it from them."
)
INSTRUCTION = (
    "Answer the question using only the numbered sources below. Cite each source you use "
    "with its number in brackets, like [1]. If the sources do not answer the question, say so."
)


def find_sources(
    library: DocumentLibrary, collections: Sequence[str], question: str
) -> list[Source]:
    """The best reranked passages judged to answer a question, numbered from 1, as stored
    with the reply; none when nothing does."""
    hits = library.search(question, collections, SOURCES_PER_QUESTION, "hybrid")
    relevant = [h for h in hits if answers_question(h)]
    return [
        Source(
            n=n,
            collection=h.collection,
            path=h.source,
            page=h.page,
            start_line=h.start_line,
            end_line=h.end_line,
            char_start=h.char_start,
            char_end=h.char_end,
            headings=h.headings,
            snippet=h.text,
            ocr=h.ocr,
            score=h.score,
            similarity=h.similarity,
            relevance=h.relevance,
        )
        for n, h in enumerate(relevant, start=1)
    ]


def grounded_question(question: str, sources: Sequence[Source]) -> str:
    """The user turn the model sees: instruction, numbered sources, then the question."""
    listed = "\n\n".join(f"[{s.n}] {s.label()}\n{s.snippet}" for s in sources)
    return f"{INSTRUCTION}\n\nSources:\n\n{listed}\n\nQuestion: {question}"
