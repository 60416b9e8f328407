"""A full disk while an image is attached: a clear error, nothing under the final name, and the
same image attached once space is back is stored whole (#18)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from backend.images import attachments
from backend.images.attachments import store_attachment
from tests.backend.conftest import InProcessRealBackend, TinyClip, prepare_home, serve_real
from tests.backend.test_images_api import png_bytes

# Stores one image in a child whose files may not grow past a few bytes (RLIMIT_FSIZE: no root
# needed); SIGXFSZ is ignored so the write fails with EFBIG instead of killing the child.
LIMITED_STORE = textwrap.dedent(
    """
    import io, resource, signal, sys
    from pathlib import Path
    from PIL import Image
    from backend.errors import DiskFullError
    from backend.images.attachments import store_attachment

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    data = Path(sys.argv[2]).read_bytes()
    image = Image.open(io.BytesIO(data))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        store_attachment(Path(sys.argv[1]), data, image)
    except DiskFullError as exc:
        print(exc)
    """
)


def _pixels(path: Path) -> bytes:
    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


def _photo(tmp_path: Path) -> tuple[Path, bytes]:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes("purple", (64, 48)))
    return photo, photo.read_bytes()


def test_a_file_size_limit_leaves_no_file_and_a_retry_stores_the_whole_image(
    tmp_path: Path,
) -> None:
    photo, data = _photo(tmp_path)
    folder = tmp_path / "attachments"
    child = subprocess.run(
        [sys.executable, "-c", LIMITED_STORE, str(folder), str(photo)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("disk full: the attached image could not be saved to ")
    assert str(folder) in child.stdout
    assert list(folder.iterdir()) == []  # neither a short file nor a temporary one

    with Image.open(photo) as image:
        stored = store_attachment(folder, data, image)
    assert _pixels(stored) == _pixels(photo)


def test_a_short_copy_left_by_an_older_failure_is_written_again(tmp_path: Path) -> None:
    photo, data = _photo(tmp_path)
    with Image.open(photo) as image:
        first = store_attachment(tmp_path / "attachments", data, image)
    whole = first.read_bytes()
    first.write_bytes(b"")
    with Image.open(photo) as image:
        again = store_attachment(tmp_path / "attachments", data, image)
    assert again == first
    assert again.read_bytes() == whole


@pytest.fixture(scope="module")
def backend(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, tiny_clip: TinyClip
) -> Iterator[InProcessRealBackend]:
    layout = prepare_home(tmp_path_factory.mktemp("home"), tiny_gguf, image_model=tiny_clip.name)
    tiny_clip.install(layout.root)
    running = serve_real(layout)
    yield running
    running.stop()


def test_the_api_says_disk_full_with_the_path_and_the_next_attach_works(
    backend: InProcessRealBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo, _ = _photo(tmp_path)
    folder = backend.layout.root / "attachments"

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    body = {"content": "Describe it", "images": [str(photo)], "stream": False}
    with backend.http() as http:
        cid = http.post("/hearth/conversations", json={}).json()["id"]
        monkeypatch.setattr(attachments.os, "fsync", no_space)
        refused = http.post(f"/hearth/conversations/{cid}/messages", json=body)
        monkeypatch.undo()
        assert refused.status_code == 507
        error = refused.json()["error"]
        assert (error["code"], error["type"]) == ("disk_full", "server_error")
        assert error["message"].startswith("disk full: ") and str(folder) in error["message"]
        assert not folder.exists() or list(folder.iterdir()) == []

        reply = http.post(f"/hearth/conversations/{cid}/messages", json=body)
    assert reply.status_code == 200, reply.text
    (attached,) = reply.json()["user"]["attachments"]
    assert _pixels(Path(attached["path"])) == _pixels(photo)
