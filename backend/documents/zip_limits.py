"""Reading zip-based documents (DOCX) with bounded memory: zip bombs are refused.

A DOCX is a zip archive: 21 MB of it can inflate to gigabytes. The members' declared sizes
and compression ratios are checked before anything is inflated. zipfile stops each member at
its declared size, so the declared total bounds what comes out; but a member's data can hold
far more than it declares, and zipfile's read() inflates all of it in one call before cutting
it short. So the parser never reads the archive itself: each member is inflated here in small
chunks into a stored (uncompressed) copy that the parser opens, where nothing can inflate.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

from backend.documents.errors import CorruptDocumentError
from backend.documents.limits import MB, RAISE_IT, DocumentLimitError, DocumentLimits

# Far above any real document's text and styles, with room for the photos a DOCX embeds.
MAX_INFLATED_BYTES = DocumentLimits().max_document_uncompressed_bytes
# Word's XML deflates about 5-15x; a member inflating over 100x is built to inflate.
MAX_RATIO = 100
# Below this size a member inflates harmlessly, whatever its ratio (tiny XML parts reach 50x).
RATIO_FLOOR_BYTES = 1 * MB
CHUNK_BYTES = 1 * MB


class ZipBombError(DocumentLimitError):
    """The archive would inflate beyond the limits; the message names the limit."""


def check_declared_sizes(
    members: list[zipfile.ZipInfo],
    max_inflated: int = MAX_INFLATED_BYTES,
    max_ratio: int = MAX_RATIO,
) -> None:
    """Refuse, before inflating anything, an archive whose members declare too much."""
    total = sum(member.file_size for member in members)
    if total > max_inflated:
        raise ZipBombError(
            f"inflates to more than {max_inflated // MB} MB ({total // MB:,} MB declared): a zip "
            f"bomb? That is over max_document_uncompressed_bytes ({max_inflated // MB} MB); "
            + RAISE_IT
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR_BYTES and ratio > max_ratio:
            raise ZipBombError(
                f"{member.filename} inflates {ratio:,.0f} times, more than the limit of "
                f"{max_ratio}: a zip bomb?"
            )


def inflated_copy(
    path: Path,
    kind: str = "zip archive",
    max_inflated: int = MAX_INFLATED_BYTES,
    max_ratio: int = MAX_RATIO,
) -> io.BytesIO:
    """The archive at `path` with every member stored uncompressed, inflated within the limits.

    Raises ZipBombError past a limit, CorruptDocumentError (naming `kind`, such as "DOCX") if
    it is not a readable zip.
    """
    copy = io.BytesIO()
    try:
        with zipfile.ZipFile(path) as archive, zipfile.ZipFile(copy, "w") as stored:
            members = [member for member in archive.infolist() if not member.is_dir()]
            check_declared_sizes(members, max_inflated, max_ratio)
            for member in members:
                with archive.open(member) as source, stored.open(member.filename, "w") as target:
                    while chunk := source.read(CHUNK_BYTES):  # inflates at most a chunk a call
                        target.write(chunk)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise CorruptDocumentError(f"not a readable {kind} ({exc})") from exc
    copy.seek(0)
    return copy
