"""What reading one document may cost: each limit is a setting, and its error names it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from backend.documents.blocks import Block
from backend.documents.errors import UnsupportedDocumentError

if TYPE_CHECKING:
    from backend.settings import Settings

MB = 1024 * 1024
RAISE_IT = "raise it in Settings if the file is genuine"


class DocumentLimitError(UnsupportedDocumentError):
    """A document is past one of the limits; the message names the setting."""


class DocumentLimits(BaseModel):
    """The settings that bound one document's reading, under their Settings names (the
    defaults are Settings' own)."""

    model_config = ConfigDict(frozen=True)

    max_document_uncompressed_bytes: int = Field(200 * MB, ge=1)
    max_document_text_chars: int = Field(20_000_000, ge=1)
    max_document_pages: int = Field(5_000, ge=1)
    max_image_bytes: int = Field(256 * MB, ge=1)  # pictures read by OCR

    @classmethod
    def of(cls, settings: Settings) -> DocumentLimits:
        return cls(**{name: getattr(settings, name) for name in cls.model_fields})


def over_limit(found: str, setting: str, limit: str) -> DocumentLimitError:
    """`found` (what the file holds) is over `setting`, whose value reads `limit`."""
    return DocumentLimitError(f"{found}, over {setting} ({limit}); {RAISE_IT}")


def within_text_limit(blocks: list[Block], limits: DocumentLimits) -> list[Block]:
    """The blocks, unless together they hold more text than one file may."""
    chars, limit = sum(len(block.text) for block in blocks), limits.max_document_text_chars
    if chars > limit:
        raise over_limit(
            f"holds {chars:,} characters of text", "max_document_text_chars", f"{limit:,}"
        )
    return blocks
