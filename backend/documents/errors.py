"""What can go wrong with documents and collections, each raised where it is found."""

from __future__ import annotations

from backend.errors import DiskFullError, HearthError, InvalidRequestError, NotFoundError


class DocumentError(Exception):
    """One file could not be indexed; the message names the reason, the caller adds the path."""


class UnsupportedDocumentError(DocumentError):
    """The file is binary, too large, or of a kind Hearth cannot read."""


class CorruptDocumentError(DocumentError):
    """The file claims a format (PDF, DOCX, JSON...) but cannot be read as one."""


class NoExtractableTextError(DocumentError):
    """The file holds no text Hearth can extract, such as a scanned PDF without a text layer."""


class UnknownCollectionError(NotFoundError, LookupError):
    """No document collection has the requested name."""

    code = "collection_not_found"


class InvalidCollectionNameError(InvalidRequestError, ValueError):
    """A collection name must be 1-64 letters, digits, '.', '_' or '-', starting alphanumeric."""

    code = "invalid_collection_name"


class DocumentNotIndexedError(NotFoundError, LookupError):
    """A collection holds no chunks of the file named."""

    code = "document_not_indexed"


class DocumentPathError(InvalidRequestError, FileNotFoundError):
    """A path given to add to a collection does not exist."""

    code = "path_not_found"


class IndexDiskFullError(DiskFullError):
    """Chroma could not write a collection's vectors for lack of space; the collection is
    marked, and its next sync repairs it."""


class IndexWriteError(HearthError):
    """Chroma could not write a collection's vectors for another reason; marked for repair too."""

    code = "index_write_failed"


class IndexRepairError(HearthError):
    """After a repair, Chroma still lacks vectors or cannot find a chunk by its own vector."""

    code = "index_repair_incomplete"
