"""What a documents search returns: the hits, and how much of the collections dense search saw
while vectors are still being filled in behind BM25."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backend.documents.retrieval import Hit


class DenseCoverage(BaseModel):
    """Chunks with a vector among those searched. BM25 sees every stored chunk; dense search
    only those embedded, so hybrid ranks the others by BM25 alone until phase two reaches them."""

    chunks: int = Field(description="Chunks stored in the collections searched.")
    embedded: int = Field(description="Of those, chunks whose vector is written.")
    label: str = Field(description='Like "62% indexed"; "100% indexed" once every chunk is.')

    @classmethod
    def of(cls, chunks: int, embedded: int) -> DenseCoverage:
        # Floored, so "100%" is said only when nothing is left to embed.
        percent = 100 if embedded >= chunks else 100 * embedded // chunks
        return cls(chunks=chunks, embedded=embedded, label=f"{percent}% indexed")


class SearchResults(BaseModel):
    """The best passages, best first, and the dense coverage they were found with."""

    hits: list[Hit]
    dense: DenseCoverage
