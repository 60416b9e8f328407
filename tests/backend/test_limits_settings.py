"""Each limit on reading a file is a setting with a sane default, and a file past it is refused
with an error that names the setting (#18): inflated DOCX size, text per document, PDF pages,
image bytes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from backend.documents.library import DocumentLibrary
from backend.documents.limits import DocumentLimits
from backend.documents.vector_store import VectorStore
from backend.images.decode import MAX_IMAGE_BYTES, ImageTooLargeError
from backend.images.service import ImageService
from backend.paths import HomeLayout
from backend.settings import Settings
from tests.backend.conftest import TinyClip
from tests.backend.inprocess_cli import run_hearth
from tests.backend.test_documents import write_docx, write_pdf

MB = 1024 * 1024
RAISE_IT = "raise it in Settings"


def test_the_defaults_are_the_settings_defaults() -> None:
    assert DocumentLimits.of(Settings()) == DocumentLimits()
    assert Settings().max_image_bytes == MAX_IMAGE_BYTES
    assert Settings().max_document_uncompressed_bytes == 200 * MB


def write_big_docx(path: Path, inflated: int) -> Path:
    """A real DOCX whose text part inflates to about `inflated` bytes (blank space, valid XML)."""
    write_docx(path.with_suffix(".plain.docx"))
    with (
        zipfile.ZipFile(path.with_suffix(".plain.docx")) as plain,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as big,
    ):
        for member in plain.infolist():
            padding = b" " * inflated if member.filename == "word/document.xml" else b""
            big.writestr(member.filename, plain.read(member) + padding)
    return path


def test_lowered_document_limits_refuse_files_naming_the_setting(
    hearth_home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_pdf(folder / "long.pdf", ["one", "two", "three"])
    write_big_docx(folder / "big.docx", 2 * MB)
    (folder / "wordy.md").write_text("The ferry leaves the harbour at seven. " * 10)
    (folder / "short.md").write_text("Tea at four.\n")
    lowered = Settings(
        threads=2,
        max_document_pages=2,
        max_document_uncompressed_bytes=MB,
        max_document_text_chars=100,
    )
    library = DocumentLibrary(HomeLayout(hearth_home).ensure(), lowered)
    try:
        assert list(library.add("docs", [folder]))[-1].type == "finished"
        files = {Path(f.path).name: f for f in library.files("docs")}
    finally:
        library.close()
    assert files["short.md"].status == "indexed"
    expected = {
        "long.pdf": "has 3 pages, over max_document_pages (2)",
        "big.docx": "over max_document_uncompressed_bytes (1 MB)",
        "wordy.md": "holds 389 characters of text, over max_document_text_chars (100)",
    }
    for name, words in expected.items():
        assert files[name].status == "failed", name
        assert words in (files[name].error or "") and RAISE_IT in (files[name].error or "")


@pytest.fixture
def two_mb_png(tmp_path: Path) -> Path:
    path = tmp_path / "big.png"
    Image.new("RGB", (8, 8), "red").save(path)
    with path.open("r+b") as file:
        file.truncate(2 * MB)  # a sparse tail: 2 MB on the file system's word
    return path


def test_a_lowered_image_limit_refuses_a_label_naming_the_setting(
    hearth_home: Path, two_mb_png: Path
) -> None:
    HomeLayout(hearth_home).ensure().settings.write_text(json.dumps({"max_image_bytes": MB}))
    result = run_hearth("images", "label", str(two_mb_png))
    assert result.code == 1
    assert result.err.strip() == (
        f"hearth: {two_mb_png} is 2 MB, over the 1 MB limit for images (max_image_bytes; "
        "raise it in Settings if the image is genuine)"
    )


def test_a_lowered_image_limit_refuses_an_attachment(hearth_home: Path, two_mb_png: Path) -> None:
    layout = HomeLayout(hearth_home).ensure()
    vectors = VectorStore(layout, None)
    try:
        images = ImageService(layout, Settings(max_image_bytes=MB), vectors)
        with pytest.raises(ImageTooLargeError, match=r"over the 1 MB limit.*max_image_bytes"):
            images.attach([str(two_mb_png)])
    finally:
        vectors.close()
    assert not (layout.root / "attachments").exists()


def test_a_lowered_image_limit_leaves_an_image_out_of_the_index_and_its_search(
    hearth_home: Path, tiny_clip: TinyClip, two_mb_png: Path
) -> None:
    tiny_clip.install(hearth_home)
    Image.new("RGB", (8, 8), "blue").save(two_mb_png.parent / "small.png")
    layout = HomeLayout(hearth_home).ensure()
    vectors = VectorStore(layout, None)
    try:
        settings = Settings(max_image_bytes=MB, image_model=tiny_clip.name, threads=1)
        index = ImageService(layout, settings, vectors).index
        done = index.index_all(two_mb_png.parent)
        with pytest.raises(ImageTooLargeError, match=r"over the 1 MB limit.*max_image_bytes"):
            index.similar(two_mb_png)  # `hearth images similar` with no backend running
    finally:
        vectors.close()
    assert done.embedded == 1
    reason = done.failures[str(two_mb_png.resolve())]
    assert "over the 1 MB limit for images (max_image_bytes" in reason, reason
