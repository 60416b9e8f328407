"""A hostile folder of pictures (issue #18): a name that is not UTF-8, an unreadable file, a FIFO
named .png, a symlink loop and an unreadable subfolder neither stop nor hang `hearth images
index`; each is reported with its reason and the readable picture is indexed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.backend.conftest import TinyClip
from tests.backend.inprocess_cli import run_hearth

ODD_NAME = b"caf\xe9.png"  # Latin-1 'café.png': not valid UTF-8
DENIED = "cannot be read (Permission denied)"


@pytest.fixture
def hostile_pictures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The folder, with `secret.png` and `locked/` unreadable: by permissions, and, as root
    (whom permissions do not stop), by refusing to open them in this process."""
    folder = tmp_path / "pictures"
    (folder / "locked").mkdir(parents=True)
    for path in (folder / "good.png", folder / "secret.png", folder / "locked" / "inside.png"):
        Image.new("RGB", (32, 32), "orange").save(path)
    Image.new("RGB", (32, 32), "blue").save(os.path.join(os.fsencode(folder), ODD_NAME))
    os.mkfifo(folder / "pipe.png")
    (folder / "loop-a.png").symlink_to(folder / "loop-b.png")
    (folder / "loop-b.png").symlink_to(folder / "loop-a.png")
    (folder / "locked" / "up").symlink_to(folder)  # a folder loop, were links followed
    secret, locked = folder / "secret.png", folder / "locked"
    secret.chmod(0)
    locked.chmod(0)
    if os.geteuid() == 0:
        open_fd, scandir = os.open, os.scandir

        def refusing_open(path: Any, *args: Any, **kwargs: Any) -> int:
            if os.fsdecode(path) == str(secret):
                raise PermissionError(13, "Permission denied", os.fsdecode(path))
            return open_fd(path, *args, **kwargs)

        def refusing_scandir(path: Any = ".") -> Any:
            if os.fsdecode(path) == str(locked):
                raise PermissionError(13, "Permission denied", os.fsdecode(path))
            return scandir(path)

        monkeypatch.setattr(os, "open", refusing_open)
        monkeypatch.setattr(os, "scandir", refusing_scandir)
    yield folder
    locked.chmod(0o755)  # so that pytest can clean tmp_path up
    secret.chmod(0o644)


def test_odd_entries_are_reported_and_never_stop_the_run(
    hostile_pictures: Path, hearth_home: Path, tiny_clip: TinyClip
) -> None:
    tiny_clip.install(hearth_home, as_default=True)
    result = run_hearth("images", "index", str(hostile_pictures), "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["embedded"] == 1  # good.png: everything else is reported
    folder = str(hostile_pictures)
    link = "symbolic link (links are not followed)"
    expected = {
        f"{folder}/caf\ufffd.png": "its name is not valid UTF-8",
        f"{folder}/secret.png": "cannot be read: Permission denied",
        f"{folder}/pipe.png": "not a regular file",
        f"{folder}/loop-a.png": link,
        f"{folder}/loop-b.png": link,
        f"{folder}/locked": DENIED,
    }
    failures = summary["failures"]
    assert set(failures) == set(expected), failures
    for path, reason in expected.items():
        assert path in failures[path] and reason in failures[path], failures[path]
