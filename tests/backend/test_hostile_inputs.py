"""Hostile files bounded (issue #18, defect 3): zip bombs in DOCX, and image paths that name
a FIFO, a device or a 6 GB sparse file are refused at once, with memory kept flat."""

from __future__ import annotations

import os
import resource
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from backend.documents.errors import CorruptDocumentError
from backend.documents.zip_limits import MAX_INFLATED_BYTES, ZipBombError, inflated_copy
from backend.images import attachments
from backend.images.decode import ImageTooLargeError
from tests.backend.conftest import InProcessRealBackend
from tests.backend.inprocess_cli import HEARTH, Result
from tests.backend.test_documents import index_corpus, write_docx
from tests.backend.test_images_api import backend, data_url, png_bytes  # noqa: F401 (a fixture)

MB = 1024 * 1024
BOMB_PADDING = 300 * MB  # over the 200 MB default, inflated from about 300 KB
SPARSE_BYTES = 6 * 1024 * MB
# A parse that inflated the bomb would grow by hundreds of MB; a bounded one by a few.
BOUNDED_GROWTH_MB = 64


def write_padded_docx(path: Path, padding: int) -> Path:
    """A real DOCX whose word/document.xml is followed by `padding` bytes of blank space
    (still valid XML), written in chunks so that building it takes no memory."""
    write_docx(path.with_suffix(".plain.docx"))
    with (
        zipfile.ZipFile(path.with_suffix(".plain.docx")) as plain,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for member in plain.infolist():
            with bomb.open(member.filename, "w") as target:
                target.write(plain.read(member))
                if member.filename == "word/document.xml":
                    for _ in range(padding // MB):
                        target.write(b" " * MB)
    return path


def declare_smaller(path: Path, member: str, content: bytes) -> None:
    """Make the archive lie: `member` declares `content`'s size and CRC, whatever it holds."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    crc, size = zlib.crc32(content), len(content)
    for signature, crc_at, sizes_at, name_at in (
        (b"PK\x03\x04", 14, 22, 30),
        (b"PK\x01\x02", 16, 24, 46),
    ):
        start = data.find(signature)
        while start != -1:
            if data[start + name_at : start + name_at + len(name)] == name:
                struct.pack_into("<I", data, start + crc_at, crc)
                struct.pack_into("<I", data, start + sizes_at, size)
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_padded_docx(tmp_path_factory.mktemp("bomb") / "bomb.docx", BOMB_PADDING)


def _limit_memory() -> None:
    # If a regression reads /dev/zero or the sparse file whole, it fails here, not the machine.
    resource.setrlimit(resource.RLIMIT_AS, (4 * 1024 * MB, 4 * 1024 * MB))


PEAK_PROBE = """
import importlib, resource, sys
from pathlib import Path
import docx  # loaded before the baseline: the reading's own growth is what is measured
module, name = sys.argv[1].split(":")
read = getattr(importlib.import_module(module), name)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    found = read(Path(sys.argv[2]))
    print(f"{len(found)} blocks" if isinstance(found, list) else "read")
except Exception as exc:
    print(type(exc).__name__, exc)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def read_measured(
    path: Path, reader: str = "backend.documents.parsers:parse_document"
) -> tuple[str, int]:
    """(what `reader` made of `path`, how many MB the peak RSS grew) in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, reader, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
    )
    assert done.returncode == 0, done.stderr
    outcome, growth = done.stdout.strip().rsplit("\n", 1)
    return outcome, int(growth)


def test_a_docx_bomb_is_refused_and_the_rest_of_the_folder_indexed(
    bomb: Path, hearth_home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(bomb, folder / "bomb.docx")
    (folder / "notes.md").write_text("The harbour ferry leaves at seven.\n")
    library = index_corpus(hearth_home, folder)
    try:
        files = {Path(f.path).name: f for f in library.files("docs")}
    finally:
        library.close()
    assert files["notes.md"].status == "indexed"
    assert files["bomb.docx"].status == "failed"
    assert f"inflates to more than {MAX_INFLATED_BYTES // MB} MB" in (
        files["bomb.docx"].error or ""
    )
    assert "a zip bomb?" in (files["bomb.docx"].error or "")


def test_parsing_a_docx_bomb_keeps_memory_flat(bomb: Path) -> None:
    outcome, growth = read_measured(bomb)
    assert outcome.startswith("ZipBombError") and "300 MB declared" in outcome
    assert growth < BOUNDED_GROWTH_MB, f"peak RSS grew {growth} MB"


def test_a_docx_that_understates_its_size_is_read_within_the_limit(tmp_path: Path) -> None:
    """Declared sizes and CRC can lie: the 300 MB member says it is just its XML. Reading it
    stops at the declared size, chunk by chunk, so memory stays flat and the text is read."""
    liar = write_padded_docx(tmp_path / "liar.docx", BOMB_PADDING)
    with zipfile.ZipFile(tmp_path / "liar.plain.docx") as plain:
        xml = plain.read("word/document.xml")
    declare_smaller(liar, "word/document.xml", xml)
    outcome, growth = read_measured(liar)
    assert outcome.endswith("blocks") and not outcome.startswith("0 "), outcome
    assert growth < BOUNDED_GROWTH_MB, f"peak RSS grew {growth} MB"


def test_a_member_inflating_too_many_times_is_refused_and_a_broken_zip_is_corrupt(
    tmp_path: Path,
) -> None:
    ratio = tmp_path / "ratio.docx"
    with zipfile.ZipFile(ratio, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * (8 * MB))  # about 1000 times
    with pytest.raises(
        ZipBombError, match=r"word/document.xml inflates [\d,]+ times.*limit of 100"
    ):
        inflated_copy(ratio)
    small = tmp_path / "small.docx"
    with zipfile.ZipFile(small, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:document/>" * 100_000)
    with pytest.raises(ZipBombError, match="more than 1 MB"):
        inflated_copy(small, max_inflated=MB)
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CorruptDocumentError, match="not a readable DOCX"):
        inflated_copy(broken, "DOCX")


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "x.png"
    os.mkfifo(path)
    return path


@pytest.fixture
def sparse_png(tmp_path: Path) -> Path:
    path = tmp_path / "huge.png"
    with path.open("wb") as file:
        file.write(png_bytes("red"))
        file.truncate(SPARSE_BYTES)  # a hole: 6 GB long, a few bytes on disk
    return path


def hearth_bounded(*args: str) -> tuple[Result, float]:
    """The installed `hearth` with a memory ceiling and a timeout, and how long it took."""
    started = time.monotonic()
    done = subprocess.run(
        [HEARTH, *args], capture_output=True, text=True, timeout=60, preexec_fn=_limit_memory
    )
    return Result(done.returncode, done.stdout, done.stderr), time.monotonic() - started


def test_images_label_refuses_devices_fifos_and_huge_files_at_once(
    hearth_home: Path, fifo: Path, sparse_png: Path
) -> None:
    for path, words in (
        (Path("/dev/zero"), "/dev/zero is a device, not an image file"),
        (fifo, f"{fifo} is a FIFO, not an image file"),
        (
            sparse_png,
            f"{sparse_png} is 6,144 MB, over the 256 MB limit for images (max_image_bytes; "
            "raise it in Settings if the image is genuine)",
        ),
    ):
        result, seconds = hearth_bounded("images", "label", str(path))
        assert result.code == 1, result.err
        assert result.err.strip() == f"hearth: {words}"  # one line, no traceback
        assert seconds < 30


def test_reading_a_6_gb_sparse_image_keeps_memory_flat(sparse_png: Path) -> None:
    outcome, growth = read_measured(sparse_png, "backend.images.decode:open_image")
    assert outcome.startswith("ImageTooLargeError") and "over the 256 MB limit" in outcome
    assert growth < BOUNDED_GROWTH_MB, f"peak RSS grew {growth} MB"


def test_a_chat_request_naming_a_huge_image_or_a_fifo_is_refused_and_serving_goes_on(
    backend: InProcessRealBackend,  # noqa: F811 (the fixture imported above)
    fifo: Path,
    sparse_png: Path,
) -> None:
    with backend.http() as http:
        cid = http.post("/hearth/conversations", json={}).json()["id"]
        for path, status, words in (
            (sparse_png, 413, "over the 256 MB limit for images"),
            (fifo, 400, "is a FIFO, not an image file"),
        ):
            body = {"content": "?", "images": [str(path)], "stream": False}
            response = http.post(f"/hearth/conversations/{cid}/messages", json=body)
            assert response.status_code == status, response.text
            assert words in response.json()["error"]["message"]
        assert http.get(f"/hearth/conversations/{cid}").json()["messages"] == []
        assert http.get("/health").status_code == 200


def test_a_data_url_too_long_for_the_image_limit_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(attachments, "MAX_DATA_URL_CHARS", 1000)  # the real one is 358 MB
    with pytest.raises(ImageTooLargeError, match="the pasted image is .* MB limit for images"):
        attachments.read_image_reference("data:image/png;base64," + "A" * 1000)
    assert attachments.read_image_reference(data_url(png_bytes("red")))[1] == "pasted image"
