"""Images attached to chat messages: read from paths or data URLs, kept under HEARTH_HOME.

Without a vision model, the LLM is told what CLIP's zero-shot labels suggest and the text read
in the image, and that they are labels and read text rather than sight, so the reply can say
what the image likely shows, what its text says, and how it knows.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import io
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from backend.errors import DiskFullError, InvalidRequestError
from backend.images.decode import MAX_IMAGE_BYTES, ImageDecodeError, read_image_file, too_many_bytes
from backend.models.registry import NO_PROJECTOR_NOTE
from backend.wire import Attachment, ImageLabel

DATA_URL_PREFIX = "data:"
REMOTE_URL = re.compile(r"\s*https?://", re.IGNORECASE)
# Base64 takes 4 characters for every 3 bytes; the header ("data:image/png;base64,") is short.
MAX_DATA_URL_CHARS = 4 * (MAX_IMAGE_BYTES // 3 + 1) + 256
# No room left: the disk or the user's quota is full, or a file-size limit (RLIMIT_FSIZE) is hit.
NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# The read text of one image in a prompt, at most: a page of a scan fits, a book would not.
MAX_TEXT_IN_PROMPT = 4000
log = logging.getLogger(__name__)


class RemoteImageUrlError(InvalidRequestError):
    """An image given by its web address: Hearth works offline and fetches nothing."""

    code = "remote_image_url"


def refuse_remote_image(reference: str, field: str | None = None) -> None:
    """`field` names where the request holds the image, as OpenAI names request fields."""
    if REMOTE_URL.match(reference):
        raise RemoteImageUrlError(
            f"{field or 'the image'}: remote image URLs are not fetched, because Hearth works "
            "offline; send the image itself as a base64 data URL (data:image/png;base64,...)",
            param=field,
        )


def read_image_reference(reference: str, limit: int = MAX_IMAGE_BYTES) -> tuple[bytes, str]:
    """(bytes, display name) from a file path or a base64 data URL, at most `limit` bytes (the
    max_image_bytes setting)."""
    refuse_remote_image(reference)
    if reference.startswith(DATA_URL_PREFIX):
        if len(reference) > MAX_DATA_URL_CHARS:  # refused before decoding doubles it
            raise too_many_bytes("the pasted image", len(reference) * 3 // 4)
        header, _, payload = reference.partition(",")
        if ";base64" not in header:
            raise ImageDecodeError("image data URLs must be base64 encoded")
        try:
            data = base64.b64decode(payload, validate=True)
        except binascii.Error as exc:
            raise ImageDecodeError(f"the image data URL is not valid base64: {exc}") from exc
        if len(data) > limit:
            raise too_many_bytes("the pasted image", len(data), limit)
        return data, "pasted image"
    path = Path(reference).expanduser()
    if not path.is_absolute():  # it would name a file in the server's folder, not the user's
        raise ImageDecodeError(f"{reference!r}: give the image's full path, from the root")
    return read_image_file(path, reference, limit), path.name


def store_attachment(folder: Path, data: bytes, image: Image.Image) -> Path:
    """Keep a copy named by content, so the conversation still shows it if the original moves.

    A copy already there is kept only if it holds exactly these bytes: one cut short by a full
    disk or a crash is written again rather than trusted.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    encoded = buffer.getvalue()
    if not _holds(target, encoded):
        try:
            write_bytes_atomically(target, encoded)
        except OSError as exc:
            if exc.errno not in NO_SPACE:
                raise
            raise DiskFullError(
                f"disk full: the attached image could not be saved to {target} ({exc.strerror}); "
                "free some space and attach it again"
            ) from exc
    return target


def _holds(path: Path, expected: bytes) -> bool:
    try:
        return path.stat().st_size == len(expected) and path.read_bytes() == expected
    except OSError:
        return False


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write a temporary file beside `path`, fsync it, then rename it over `path`: a failure at
    any point (a full disk, a crash) leaves the old file or none, never a part of the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def describe_for_llm(attachments: Sequence[Attachment]) -> str:
    """Context for a text-only LLM: the labels and their scores, marked as inferred, and the
    text read in each image, framed as such."""
    lines = []
    for number, attachment in enumerate(attachments, start=1):
        guesses = ", ".join(f"{item.label} ({item.score:.0%})" for item in attachment.labels)
        lines.append(f"Image {number} ({attachment.name}): {guesses}")
        if attachment.text:
            lines.append(framed_text(attachment.text))
    if not any(attachment.text for attachment in attachments):  # as hearth-smol learnt it
        ask = "Say what each image most likely shows, and say that this is inferred from labels."
    else:
        ask = (
            "Answer questions about the images' words from the text read from them. Say what "
            "each image most likely shows, and say that this is inferred from labels and text."
        )
    return (
        "The user attached images. You cannot see them; an image classifier suggests these "
        "labels with probabilities:\n" + "\n".join(lines) + "\n" + ask
    )


def framed_text(text: str) -> str:
    """An image's read text as the prompt gives it: marked, quoted, and cut if very long."""
    if len(text) > MAX_TEXT_IN_PROMPT:
        text = text[:MAX_TEXT_IN_PROMPT] + " [...]"
    return f'Text read from the image:\n"""\n{text}\n"""'


def vision_note(attachment: Attachment) -> str:
    """Why a model without vision could only infer what the image shows."""
    given = "CLIP's labels and the text read from it" if attachment.text else "CLIP's labels"
    return f"this model cannot see the image; what it says is inferred from {given}"


def noted_for(attachments: Sequence[Attachment], sees: bool) -> list[Attachment]:
    """The attachments as stored with the question: each carries the vision note when the
    model that answers cannot see it, so the app can say so beside the reply."""
    if sees:
        return list(attachments)
    return [a.model_copy(update={"vision_note": vision_note(a)}) for a in attachments]


def with_image_context(question: str, attachments: Sequence[Attachment]) -> str:
    """The user's question preceded by what the labeller found in the attached images."""
    return f"{describe_for_llm(attachments)}\n\n{question}" if attachments else question


def image_labels(labels: Sequence[ImageLabel]) -> list[ImageLabel]:
    return [ImageLabel(label=item.label, score=round(item.score, 4)) for item in labels]


def image_inputs(
    model: str, attachments: Sequence[Attachment], sees: bool, question: str
) -> tuple[tuple[bytes, ...], str]:
    """(images for the model, the text of the message they are attached to).

    A model that `sees` (it has a vision projector) gets the stored images themselves; any
    other gets CLIP's labels before the question, and the log says that it has no vision
    projector.
    """
    if not attachments:
        return (), question
    if sees:
        return tuple(read_image_file(Path(a.path)) for a in attachments), question
    log.info("%s: %s", model, NO_PROJECTOR_NOTE)
    return (), with_image_context(question, attachments)
